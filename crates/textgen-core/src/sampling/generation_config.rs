//! Defaults from a Hugging Face `generation_config.json`: fills the parameters a user left unset.

use super::params::RawParams;
use serde_json::Value;

/// Fills every `None`/empty field of `raw` that `config` (a parsed `generation_config.json`) sets.
/// Explicit user values always win. Unknown keys are ignored (they configure other frameworks).
pub fn apply(raw: &mut RawParams, config: &Value) {
    let f = |k: &str| config.get(k).and_then(Value::as_f64).map(|v| v as f32);
    let i = |k: &str| config.get(k).and_then(Value::as_i64);
    fn fill<T>(slot: &mut Option<T>, v: Option<T>) {
        if slot.is_none() {
            *slot = v;
        }
    }
    fill(&mut raw.temperature, f("temperature"));
    fill(&mut raw.top_k, i("top_k"));
    fill(&mut raw.top_p, f("top_p"));
    fill(&mut raw.min_p, f("min_p"));
    fill(&mut raw.typical_p, f("typical_p"));
    fill(&mut raw.repetition_penalty, f("repetition_penalty"));
    fill(&mut raw.no_repeat_ngram_size, i("no_repeat_ngram_size"));
    fill(&mut raw.max_new_tokens, i("max_new_tokens"));
    fill(&mut raw.min_new_tokens, i("min_new_tokens"));
    fill(&mut raw.num_beams, i("num_beams"));
    fill(&mut raw.length_penalty, f("length_penalty"));
    fill(&mut raw.num_return_sequences, i("num_return_sequences"));
    fill(
        &mut raw.early_stopping,
        config.get("early_stopping").and_then(Value::as_bool),
    );
    if config.get("do_sample").and_then(Value::as_bool) == Some(false) && raw.temperature.is_none()
    {
        raw.greedy = true;
    }
    if raw.stop_token_ids.is_empty() {
        match config.get("eos_token_id") {
            Some(Value::Number(n)) => raw.stop_token_ids.extend(n.as_i64()),
            Some(Value::Array(a)) => raw
                .stop_token_ids
                .extend(a.iter().filter_map(Value::as_i64)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_only_unset_values() {
        let cfg: Value = serde_json::from_str(
            r#"{"temperature": 0.6, "top_p": 0.9, "max_new_tokens": 50, "eos_token_id": [2, 7],
                "do_sample": true, "transformers_version": "4.46"}"#,
        )
        .unwrap();
        let mut raw = RawParams {
            temperature: Some(0.2),
            ..Default::default()
        };
        apply(&mut raw, &cfg);
        assert_eq!(raw.temperature, Some(0.2));
        assert_eq!(raw.top_p, Some(0.9));
        assert_eq!(raw.max_new_tokens, Some(50));
        assert_eq!(raw.stop_token_ids, vec![2, 7]);
        assert!(!raw.greedy);
    }

    #[test]
    fn do_sample_false_means_greedy() {
        let mut raw = RawParams::default();
        apply(
            &mut raw,
            &serde_json::json!({"do_sample": false, "eos_token_id": 3}),
        );
        assert!(raw.greedy);
        assert_eq!(raw.stop_token_ids, vec![3]);
    }
}
