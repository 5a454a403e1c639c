//! Property tests of the sampling warpers and the sampler on random logits.

use proptest::prelude::*;
use textgen_core::sampling::params::Warpers;
use textgen_core::sampling::processors::{warp, WarpScratch};
use textgen_core::sampling::sampler::argmax;
use textgen_core::sampling::{RawParams, Sampler};

fn neutral() -> Warpers {
    Warpers::default()
}

fn probs(logits: &[f32]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
    let e: Vec<f64> = logits.iter().map(|&l| (l as f64 - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

fn logits() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-10.0f32..10.0, 2..300)
}

proptest! {
    #[test]
    fn top_k_keeps_the_k_best_and_ties(l in logits(), k in 1usize..50) {
        let mut c = Vec::new();
        warp(&Warpers { top_k: Some(k), ..neutral() }, &l, &mut c, &mut WarpScratch::default());
        let kept_min = c.iter().map(|e| e.0).fold(f32::INFINITY, f32::min);
        let mut sorted = l.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let kth = sorted[k.min(l.len()) - 1];
        // Exactly the tokens scoring at least the k-th score survive (ties with it are kept).
        prop_assert_eq!(c.len(), l.iter().filter(|&&v| v >= kth).count());
        prop_assert!(c.len() >= k.min(l.len()));
        prop_assert!(kept_min >= kth);
    }

    #[test]
    fn top_p_keeps_the_smallest_set_reaching_p(l in logits(), p in 0.05f32..0.99) {
        let mut c = Vec::new();
        warp(&Warpers { top_p: p, ..neutral() }, &l, &mut c, &mut WarpScratch::default());
        let pr = probs(&l);
        let mut kept: Vec<f64> = c.iter().map(|e| pr[e.1 as usize]).collect();
        kept.sort_by(|a, b| b.total_cmp(a));
        let mass: f64 = kept.iter().sum();
        prop_assert!(mass >= p as f64 - 1e-9, "mass {} < p {}", mass, p);
        // Minimal: without its least likely member the set falls short of p.
        prop_assert!(mass - kept[kept.len() - 1] < p as f64 + 1e-9);
        // Kept tokens are the most likely ones.
        let dropped_max = (0..l.len()).filter(|i| !c.iter().any(|e| e.1 as usize == *i)).map(|i| pr[i]).fold(0.0, f64::max);
        prop_assert!(dropped_max <= kept[kept.len() - 1] + 1e-12);
    }

    #[test]
    fn min_p_threshold_is_relative(l in logits(), m in 0.0f32..1.0) {
        let mut c = Vec::new();
        warp(&Warpers { min_p: m, ..neutral() }, &l, &mut c, &mut WarpScratch::default());
        let pr = probs(&l);
        let top = pr.iter().copied().fold(0.0, f64::max);
        for (i, p) in pr.iter().enumerate() {
            let kept = c.iter().any(|e| e.1 as usize == i);
            prop_assert_eq!(kept, *p >= m as f64 * top, "token {} p {} top {}", i, p, top);
        }
    }

    #[test]
    fn tiny_temperature_is_greedy(l in logits(), seed in any::<u64>()) {
        let mut sorted = l.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        prop_assume!(sorted[0] - sorted[1] > 0.01);
        let raw = RawParams { temperature: Some(1e-4), top_k: Some(1000), top_p: Some(1.0), seed: Some(seed), ..Default::default() };
        let params = raw.validate(l.len(), || 0).unwrap();
        let mut s = Sampler::new(&params, seed);
        prop_assert_eq!(s.choose(&mut l.clone(), &[], 0, &[]).id, argmax(&l));
    }

    #[test]
    fn sampling_never_picks_a_filtered_token(l in logits(), seed in any::<u64>(), k in 1i64..10) {
        let raw = RawParams { temperature: Some(1.0), top_k: Some(k), top_p: Some(0.9), seed: Some(seed), ..Default::default() };
        let params = raw.validate(l.len(), || 0).unwrap();
        let mut s = Sampler::new(&params, seed);
        let id = s.choose(&mut l.clone(), &[], 0, &[]).id;
        let mut c = Vec::new();
        warp(&Warpers { top_k: Some(k as usize), top_p: 0.9, ..neutral() }, &l, &mut c, &mut WarpScratch::default());
        prop_assert!(c.iter().any(|e| e.1 == id));
    }
}
