//! Entry points for the `cargo fuzz` targets in `fuzz/` (not an API): reading an enmasse file
//! as `zato enmasse --import` does, with its `include:` files and environment placeholders.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use crate::enmasse::{drop_unset_secrets, load, substitute, unset_variables};

/// The files an input becomes, the first one the file given to `--input`; the input's parts
/// are separated by 0xFF bytes (never in UTF-8 text).
const MAIN: [&str; 2] = ["main.yaml", "main.json"];
const INCLUDED: [&str; 3] = ["a.yml", "b.json", "c.yaml"];

/// A directory of this process's own, with the environment variables placeholders may name.
fn dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let dir = base.join(format!("zato-fuzz-enmasse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        // SAFETY: set once, before anything else in this process reads the environment.
        unsafe {
            std::env::set_var("ZATO_FUZZ_A", "value-a");
            std::env::set_var("ZATO_FUZZ_B", "");
            std::env::set_var("ZATO_FUZZ_C", "{Zato_Enmasse_Env.ZATO_FUZZ_A}");
        }
        dir
    })
}

/// Whether a part's `include:` names only files in the fuzzing directory (an input must not
/// make the fuzzer read /dev/zero or a FIFO). Parsed with the codec the file's name picks.
fn includes_stay_inside(name: &str, text: &str) -> bool {
    let doc: Option<Value> = if name.ends_with(".json") {
        serde_json::from_str(text).ok()
    } else {
        serde_yaml_ng::from_str(text).ok()
    };
    let Some(include) = doc.as_ref().and_then(|d| d.get("include")) else {
        return true;
    };
    let safe = |v: &Value| {
        v.as_str()
            .is_none_or(|p| !p.contains('/') && !p.contains('\\') && !p.contains('\0'))
    };
    match include {
        Value::Array(items) => items.iter().all(safe),
        other => safe(other),
    }
}

/// Reads the file an input makes as `zato enmasse --import` does (the first byte: bit 0 a JSON
/// main file, bit 1 `--ignore-missing-includes`, bit 4 `--ignore-missing-env`): the objects to
/// import with the placeholders filled in and the variables found missing, or None when the
/// CLI refuses the file.
pub fn enmasse_load(data: &[u8]) -> Option<(Value, BTreeSet<String>)> {
    let (&flags, rest) = data.split_first()?;
    let dir = dir();
    let main = MAIN[usize::from(flags & 1)];
    let ignore_missing = flags & 2 != 0;
    let parts: Vec<&[u8]> = rest.split(|b| *b == 0xFF).collect();
    if parts.len() > 1 + INCLUDED.len() {
        return None;
    }
    let names: Vec<&str> = std::iter::once(main).chain(INCLUDED).collect();
    for (name, part) in names.iter().zip(&parts) {
        // `include` spelt out, or with escapes (JSON's \u0069, YAML's \x69): only then parsed.
        let may_include = part.windows(7).any(|w| w == b"include") || part.contains(&b'\\');
        if may_include
            && let Ok(text) = std::str::from_utf8(part)
            && !includes_stay_inside(name, text)
        {
            return None;
        }
    }
    // Files are written (or removed) only when they differ from the previous input's.
    static WRITTEN: Mutex<Vec<Option<Vec<u8>>>> = Mutex::new(Vec::new());
    let mut written = WRITTEN.lock().unwrap_or_else(|e| e.into_inner());
    let all: Vec<&str> = MAIN.iter().chain(&INCLUDED).copied().collect();
    if written.len() != all.len() {
        // At first none is there.
        *written = all
            .iter()
            .map(|name| {
                let _ = std::fs::remove_file(dir.join(name));
                None
            })
            .collect();
    }
    for (i, name) in all.iter().enumerate() {
        let want = names
            .iter()
            .position(|n| n == name)
            .and_then(|i| parts.get(i))
            .map(|p| p.to_vec());
        if written[i] == want {
            continue;
        }
        let path = dir.join(name);
        match &want {
            Some(part) => std::fs::write(&path, part),
            None => std::fs::remove_file(&path),
        }
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        written[i] = want;
    }
    drop(written);
    let doc = load(&dir.join(main), ignore_missing, &mut Vec::new()).ok()?;
    assert!(!doc.contains_key("include"));
    let mut objects = Value::Object(doc);
    let unset = unset_variables(&objects);
    if !unset.is_empty() {
        if flags & 0x10 == 0 {
            return None;
        }
        drop_unset_secrets(&mut objects);
        // No password is left naming an unset variable.
        for list in objects.as_object().into_iter().flat_map(|m| m.values()) {
            for obj in list.as_array().into_iter().flatten() {
                if let Some(p) = obj.get("password") {
                    assert!(unset_variables(p).is_empty(), "{p} kept");
                }
            }
        }
    }
    let mut missing = BTreeSet::new();
    substitute(&mut objects, &mut missing);
    assert!(missing.is_subset(&unset), "{missing:?} not in {unset:?}");
    for var in &missing {
        assert!(std::env::var(var).is_err(), "`{var}` is set");
    }
    Some((objects, missing))
}
