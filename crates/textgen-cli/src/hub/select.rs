//! Which files of a repository textgen needs: one GGUF file (the one named, or the preferred
//! quantization), else a Hugging Face model folder (config, safetensors, tokenizer, generation config).

use super::HubError;

/// Quantizations picked when a repository has several GGUF files, best first.
const PREFERRED: [&str; 3] = ["Q4_K_M", "Q4_1", "Q8_0"];

/// The files of a Hugging Face model folder that textgen reads (plus every top-level `*.safetensors`).
const FOLDER_FILES: [&str; 5] = [
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "model.safetensors.index.json",
];

/// What to take from a repository.
#[derive(Debug, PartialEq, Eq)]
pub enum Selection {
    /// One file (a GGUF model, or the file the user named); the model is that file.
    File(String),
    /// A model folder; the model is the snapshot folder.
    Folder(Vec<String>),
}

impl Selection {
    /// The files to fetch.
    pub fn files(&self) -> &[String] {
        match self {
            Self::File(f) => std::slice::from_ref(f),
            Self::Folder(files) => files,
        }
    }
}

/// Whether `name`'s file name has `tag` as one of its `-`/`.`-separated words (any case).
fn has_tag(name: &str, tag: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.split(['-', '.', ' '])
        .any(|w| w.eq_ignore_ascii_case(tag))
}

/// Picks the files of `repo` (whose files are `files`) to pull; `wanted` names one.
pub fn select(repo: &str, files: &[String], wanted: Option<&str>) -> Result<Selection, HubError> {
    if let Some(w) = wanted {
        return if files.iter().any(|f| f == w) {
            Ok(Selection::File(w.to_string()))
        } else {
            Err(HubError::NotFound(format!("{repo} has no file {w}")))
        };
    }
    let ggufs: Vec<&String> = files
        .iter()
        .filter(|f| f.to_ascii_lowercase().ends_with(".gguf"))
        .collect();
    if let [one] = ggufs.as_slice() {
        return Ok(Selection::File(one.to_string()));
    }
    if !ggufs.is_empty() {
        for tag in PREFERRED {
            let hits: Vec<&&String> = ggufs.iter().filter(|f| has_tag(f, tag)).collect();
            if let [one] = hits.as_slice() {
                return Ok(Selection::File(one.to_string()));
            }
            if hits.len() > 1 {
                break;
            }
        }
        let list: Vec<&str> = ggufs.iter().map(|f| f.as_str()).collect();
        return Err(HubError::Choice(format!(
            "{repo} has {} GGUF files; choose one with {repo}:FILE (or --file FILE): {}",
            ggufs.len(),
            list.join(", ")
        )));
    }
    let folder: Vec<String> = files
        .iter()
        .filter(|f| {
            FOLDER_FILES.contains(&f.as_str()) || (!f.contains('/') && f.ends_with(".safetensors"))
        })
        .cloned()
        .collect();
    if folder.iter().any(|f| f == "config.json")
        && folder.iter().any(|f| f.ends_with(".safetensors"))
    {
        Ok(Selection::Folder(folder))
    } else {
        Err(HubError::Choice(format!(
            "{repo} has neither a GGUF file nor a Hugging Face model folder (config.json and \
             *.safetensors): textgen cannot run it"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_gguf_is_picked_by_preference_or_by_name() {
        let files = names(&["README.md", "m-Q8_0.gguf", "m.Q4_1.gguf", "m-f16.gguf"]);
        assert_eq!(
            select("o/r", &files, None).unwrap(),
            Selection::File("m.Q4_1.gguf".into())
        );
        let files = names(&["m-Q8_0.gguf", "m-q4_k_m.gguf"]);
        assert_eq!(
            select("o/r", &files, None).unwrap(),
            Selection::File("m-q4_k_m.gguf".into())
        );
        assert_eq!(
            select("o/r", &files, Some("m-Q8_0.gguf")).unwrap(),
            Selection::File("m-Q8_0.gguf".into())
        );
        assert!(matches!(
            select("o/r", &files, Some("x.gguf")),
            Err(HubError::NotFound(_))
        ));
        let only = names(&["m-f16.gguf", "config.json"]);
        assert_eq!(
            select("o/r", &only, None).unwrap(),
            Selection::File("m-f16.gguf".into())
        );
    }

    #[test]
    fn ambiguous_ggufs_are_listed() {
        let files = names(&["m-f16.gguf", "m-Q2_K.gguf"]);
        let err = select("o/r", &files, None).unwrap_err().to_string();
        assert!(
            err.contains("m-f16.gguf, m-Q2_K.gguf") && err.contains("o/r:FILE"),
            "{err}"
        );
    }

    #[test]
    fn a_folder_takes_what_textgen_reads() {
        let files = names(&[
            "README.md",
            "config.json",
            "model.safetensors",
            "tokenizer.json",
            "onnx/model.onnx",
            "sub/x.safetensors",
            "generation_config.json",
        ]);
        let Selection::Folder(got) = select("o/r", &files, None).unwrap() else {
            panic!("not a folder");
        };
        assert_eq!(
            got,
            names(&[
                "config.json",
                "model.safetensors",
                "tokenizer.json",
                "generation_config.json"
            ])
        );
        let err = select("o/r", &names(&["README.md"]), None).unwrap_err();
        assert!(err.to_string().contains("neither a GGUF file"));
    }
}
