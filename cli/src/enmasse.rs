//! `zato enmasse PATH --export | --import`: the cluster's configuration as one YAML or JSON
//! file in upstream's format. The file side lives here (codecs, `include:`, environment
//! placeholders); the server checks every object and writes them all in one transaction.
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

use crate::exit::{
    CONFLICTING_OPTIONS, CliError, CliResult, FILE_MISSING, INVALID_INPUT, NO_OPTIONS,
};
use crate::invoke;

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq)]
pub enum FileFormat {
    Yaml,
    Json,
}

#[derive(Args, Debug)]
pub struct EnmasseArgs {
    /// The server directory whose cluster is exported or imported into.
    pub path: PathBuf,
    /// Write the cluster's configuration to a file.
    #[arg(long, visible_alias = "export-odb")]
    pub export: bool,
    /// Read a file and create (or with --replace, update) what it defines.
    #[arg(long = "import")]
    pub import: bool,
    /// The file to import (.yaml, .yml or .json).
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Where to export (default: ./zato-export-<timestamp>.yaml).
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[arg(
        long,
        visible_alias = "dump-format",
        value_enum,
        default_value = "yaml"
    )]
    pub format: FileFormat,
    /// Update objects that already exist instead of refusing the file.
    #[arg(long, visible_alias = "replace-odb-objects")]
    pub replace: bool,
    /// Skip channels and connections whose security definition does not exist.
    #[arg(long)]
    pub ignore_missing_defs: bool,
    /// Warn about, instead of refusing, `include:` files that do not exist.
    #[arg(long)]
    pub ignore_missing_includes: bool,
    /// Import even when `{Zato_Enmasse_Env.VAR}` names unset variables: a secret that names
    /// one is left out (new definitions get a random secret, existing ones keep theirs) and
    /// other fields get upstream's `Missing_Value_VAR`.
    #[arg(long)]
    pub ignore_missing_env: bool,
}

fn invalid(message: String) -> CliError {
    CliError::new(INVALID_INPUT, message)
}

/// Reads one file with the codec its extension names.
fn read_file(path: &Path) -> CliResult<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::new(FILE_MISSING, format!("Cannot read {}: {e}", path.display())))?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => serde_json::from_str(&text)
            .map_err(|e| invalid(format!("{} is not valid JSON: {e}", path.display()))),
        Some("yaml" | "yml") => serde_yaml_ng::from_str(&text)
            .map_err(|e| invalid(format!("{} is not valid YAML: {e}", path.display()))),
        _ => Err(invalid(format!(
            "{}: the file name must end with .yaml, .yml or .json",
            path.display()
        ))),
    }
}

/// The file with its `include:` files merged in (their lists appended, type by type).
pub(crate) fn load(
    path: &Path,
    ignore_missing: bool,
    stack: &mut Vec<PathBuf>,
) -> CliResult<Map<String, Value>> {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    if stack.contains(&canonical) {
        return Err(invalid(format!("{} includes itself", path.display())));
    }
    stack.push(canonical);
    let mut doc = match read_file(path)? {
        Value::Object(m) => m,
        Value::Null => Map::new(),
        _ => {
            return Err(invalid(format!(
                "{}: the top level must be a map of object type to a list of objects",
                path.display()
            )));
        }
    };
    let includes = match doc.remove("include") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a,
        Some(Value::String(s)) => vec![Value::String(s)],
        Some(_) => {
            return Err(invalid(format!(
                "{}: `include` must be a list of paths",
                path.display()
            )));
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    for inc in includes {
        let Some(rel) = inc.as_str() else {
            return Err(invalid(format!(
                "{}: `include` holds a non-path: {inc}",
                path.display()
            )));
        };
        let inc_path = base.join(rel);
        if !inc_path.exists() && ignore_missing {
            eprintln!(
                "Warning: included file {} does not exist; skipped",
                inc_path.display()
            );
            continue;
        }
        for (k, v) in load(&inc_path, ignore_missing, stack)? {
            match (doc.get_mut(&k), v) {
                (Some(Value::Array(mine)), Value::Array(theirs)) => mine.extend(theirs),
                (None, v) => {
                    doc.insert(k, v);
                }
                _ => {
                    return Err(invalid(format!(
                        "{}: `{k}` must be a list",
                        inc_path.display()
                    )));
                }
            }
        }
    }
    stack.pop();
    Ok(doc)
}

const ENV_PREFIX: &str = "{Zato_Enmasse_Env.";

/// Replaces `{Zato_Enmasse_Env.VAR}` with the variable's value, or upstream's
/// `Missing_Value_VAR` when it is not set (each such variable is reported once).
pub(crate) fn substitute(v: &mut Value, missing: &mut BTreeSet<String>) {
    match v {
        Value::String(s) if s.contains(ENV_PREFIX) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(start) = rest.find(ENV_PREFIX) {
                out.push_str(&rest[..start]);
                let after = &rest[start + ENV_PREFIX.len()..];
                let Some(end) = after.find('}') else {
                    out.push_str(&rest[start..]);
                    rest = "";
                    break;
                };
                let var = &after[..end];
                match std::env::var(var) {
                    Ok(value) => out.push_str(&value),
                    Err(_) => {
                        missing.insert(var.to_string());
                        out.push_str(&format!("Missing_Value_{var}"));
                    }
                }
                rest = &after[end + 1..];
            }
            out.push_str(rest);
            *s = out;
        }
        Value::Array(items) => items.iter_mut().for_each(|i| substitute(i, missing)),
        Value::Object(m) => m.values_mut().for_each(|i| substitute(i, missing)),
        _ => {}
    }
}

/// Every `{Zato_Enmasse_Env.VAR}` placeholder in `v` whose variable is not set.
pub(crate) fn unset_variables(v: &Value) -> BTreeSet<String> {
    let mut probe = v.clone();
    let mut missing = BTreeSet::new();
    substitute(&mut probe, &mut missing);
    missing
}

/// Removes `password` fields whose placeholders name unset variables; returns the (type,
/// name) of each object touched.
pub(crate) fn drop_unset_secrets(objects: &mut Value) -> Vec<(String, String)> {
    let mut dropped = Vec::new();
    let Some(types) = objects.as_object_mut() else {
        return dropped;
    };
    for (kind, list) in types.iter_mut() {
        for obj in list.as_array_mut().into_iter().flatten() {
            let Some(o) = obj.as_object_mut() else {
                continue;
            };
            let unset = o
                .get("password")
                .is_some_and(|p| !unset_variables(p).is_empty());
            if unset {
                o.remove("password");
                let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
                dropped.push((kind.clone(), name.to_string()));
            }
        }
    }
    dropped
}

fn print_list(title: &str, items: &Value) {
    let items = items.as_array().map(Vec::as_slice).unwrap_or_default();
    if !items.is_empty() {
        println!("{title} ({}):", items.len());
        for i in items {
            println!("  {}", i.as_str().unwrap_or_default());
        }
    }
}

async fn import(args: &EnmasseArgs) -> CliResult<()> {
    let input = args.input.as_deref().ok_or_else(|| {
        CliError::new(
            NO_OPTIONS,
            "--import needs --input FILE (a .yaml, .yml or .json file)",
        )
    })?;
    let mut objects = Value::Object(load(input, args.ignore_missing_includes, &mut Vec::new())?);
    let unset = unset_variables(&objects);
    if !unset.is_empty() {
        if !args.ignore_missing_env {
            return Err(invalid(format!(
                "{} names environment variables that are not set: {}; set them, or pass --ignore-missing-env to import without them",
                input.display(),
                unset.iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
        for (kind, name) in drop_unset_secrets(&mut objects) {
            eprintln!(
                "Warning: {kind} `{name}`: its password names an unset variable; left out (a new definition gets a random one)"
            );
        }
    }
    let mut missing = BTreeSet::new();
    substitute(&mut objects, &mut missing);
    for var in &missing {
        eprintln!("Warning: environment variable {var} is not set; using Missing_Value_{var}");
    }
    let payload = json!({
        "objects": objects, "replace": args.replace, "ignore_missing_defs": args.ignore_missing_defs,
    });
    let reply = crate::sync::change(&args.path, "zato.enmasse.import", &payload).await?;
    for s in reply["skipped"].as_array().into_iter().flatten() {
        eprintln!("Skipped {}", s.as_str().unwrap_or_default());
    }
    if reply["ok"] != json!(true) {
        let problems = reply["problems"].as_array().cloned().unwrap_or_default();
        let lines: Vec<String> = problems
            .iter()
            .map(|p| {
                let field = p["field"]
                    .as_str()
                    .map(|f| format!(" {f}:"))
                    .unwrap_or_default();
                format!(
                    "  {} `{}`:{field} {}",
                    p["type"].as_str().unwrap_or_default(),
                    p["name"].as_str().unwrap_or_default(),
                    p["message"].as_str().unwrap_or_default()
                )
            })
            .collect();
        return Err(CliError::failed(format!(
            "{} has {} problem(s); nothing was imported:\n{}",
            input.display(),
            lines.len(),
            lines.join("\n")
        )));
    }
    print_list("Created", &reply["created"]);
    print_list("Updated", &reply["updated"]);
    println!("Import of {} finished", input.display());
    Ok(())
}

async fn export(args: &EnmasseArgs) -> CliResult<()> {
    let data = invoke::call(&args.path, "zato.enmasse.export", &json!({})).await?;
    let text = match args.format {
        FileFormat::Json => serde_json::to_string_pretty(&data)
            .map(|t| t + "\n")
            .map_err(|e| e.to_string()),
        FileFormat::Yaml => serde_yaml_ng::to_string(&data).map_err(|e| e.to_string()),
    }
    .map_err(|e| CliError::failed(format!("Cannot encode the export: {e}")))?;
    let output = args.output.clone().unwrap_or_else(|| {
        let ts = chrono::Local::now()
            .format("%Y-%m-%dT%H_%M_%S_%6f")
            .to_string();
        let ext = if args.format == FileFormat::Json {
            "json"
        } else {
            "yaml"
        };
        PathBuf::from(format!("zato-export-{ts}.{ext}"))
    });
    std::fs::write(&output, text)
        .map_err(|e| CliError::failed(format!("Cannot write {}: {e}", output.display())))?;
    let count: usize = data
        .as_object()
        .map(|m| m.values().filter_map(Value::as_array).map(Vec::len).sum())
        .unwrap_or(0);
    println!("Exported {count} objects to {}", output.display());
    let mut vars = std::collections::BTreeSet::new();
    env_placeholders(&data, &mut vars);
    if !vars.is_empty() {
        println!(
            "Its secrets are placeholders; an import reads them from these environment variables:"
        );
        for v in vars {
            println!("  {v}");
        }
    }
    Ok(())
}

/// The variables named by `{Zato_Enmasse_Env.VAR}` placeholders anywhere in `v`.
fn env_placeholders(v: &Value, out: &mut std::collections::BTreeSet<String>) {
    const OPEN: &str = "{Zato_Enmasse_Env.";
    match v {
        Value::String(s) => {
            let mut rest = s.as_str();
            while let Some(at) = rest.find(OPEN) {
                rest = &rest[at + OPEN.len()..];
                let Some(end) = rest.find('}') else { break };
                out.insert(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
        Value::Array(a) => a.iter().for_each(|x| env_placeholders(x, out)),
        Value::Object(m) => m.values().for_each(|x| env_placeholders(x, out)),
        _ => {}
    }
}

pub async fn run(args: EnmasseArgs) -> CliResult<()> {
    match (args.import, args.export) {
        (true, true) => Err(CliError::new(
            CONFLICTING_OPTIONS,
            "Use either --import or --export, not both",
        )),
        (false, false) => Err(CliError::new(
            NO_OPTIONS,
            "Nothing to do; use --export or --import --input FILE",
        )),
        (true, false) => import(&args).await,
        (false, true) => export(&args).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_take_the_environment_or_upstreams_missing_value() {
        // SAFETY: the test sets a variable nobody else reads.
        unsafe { std::env::set_var("ZATO_ENMASSE_TEST_VAR", "s3cret") };
        let mut v = json!({"a": ["x{Zato_Enmasse_Env.ZATO_ENMASSE_TEST_VAR}y", "{Zato_Enmasse_Env.ZATO_ENMASSE_UNSET}"]});
        let mut missing = BTreeSet::new();
        substitute(&mut v, &mut missing);
        assert_eq!(
            v,
            json!({"a": ["xs3crety", "Missing_Value_ZATO_ENMASSE_UNSET"]})
        );
        assert_eq!(
            missing.into_iter().collect::<Vec<_>>(),
            vec!["ZATO_ENMASSE_UNSET".to_string()]
        );
    }

    #[test]
    fn secrets_naming_unset_variables_are_left_out() {
        let mut v = json!({
            "security": [
                {"name": "a", "password": "{Zato_Enmasse_Env.ZATO_ENMASSE_UNSET_A}"},
                {"name": "b", "password": "literal"},
            ],
            "outgoing_rest": [{"name": "c", "host": "{Zato_Enmasse_Env.ZATO_ENMASSE_UNSET_B}"}],
        });
        assert_eq!(
            unset_variables(&v).into_iter().collect::<Vec<_>>(),
            vec!["ZATO_ENMASSE_UNSET_A", "ZATO_ENMASSE_UNSET_B"]
        );
        let dropped = drop_unset_secrets(&mut v);
        assert_eq!(dropped, vec![("security".to_string(), "a".to_string())]);
        assert!(v["security"][0].get("password").is_none());
        assert_eq!(v["security"][1]["password"], "literal");
    }

    #[test]
    fn includes_are_merged_and_cycles_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.yaml"),
            "include: [b.yml]\nsecurity:\n  - {name: s1}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("b.yml"),
            "security:\n  - {name: s2}\nchannel_rest: []\n",
        )
        .unwrap();
        let doc = load(&dir.path().join("a.yaml"), false, &mut Vec::new()).unwrap();
        assert_eq!(doc["security"], json!([{"name": "s1"}, {"name": "s2"}]));
        assert!(doc.contains_key("channel_rest"));
        std::fs::write(dir.path().join("c.json"), r#"{"include": ["c.json"]}"#).unwrap();
        assert!(load(&dir.path().join("c.json"), false, &mut Vec::new()).is_err());
    }
}
