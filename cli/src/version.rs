//! `zato --version` in upstream's format:
//! `Zato {major}.{minor}.{git %Y.%m.%d}+rev.{git sha}-py{X.Y.Z}-{distro}.{ver}-{codename}`,
//! or `Zato {major}.{minor}-nogit-...` for a build made outside git.
use std::collections::HashMap;

/// `ID`, `VERSION_ID` and `VERSION_CODENAME` of `/etc/os-release`.
fn distro() -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let fields: HashMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k, v.trim_matches('"')))
        .collect();
    let get = |k| fields.get(k).copied().unwrap_or("");
    let mut out = match get("ID") {
        "" => "linux".to_string(),
        id => id.to_string(),
    };
    if !get("VERSION_ID").is_empty() {
        out = format!("{out}.{}", get("VERSION_ID"));
    }
    if !get("VERSION_CODENAME").is_empty() {
        out = format!("{out}-{}", get("VERSION_CODENAME"));
    }
    out
}

pub fn long() -> String {
    let major_minor = env!("CARGO_PKG_VERSION")
        .rsplit_once('.')
        .map_or(env!("CARGO_PKG_VERSION"), |(mm, _)| mm);
    let rev = env!("ZATO_BUILD_GIT_REV");
    let date = env!("ZATO_BUILD_GIT_DATE");
    let py = match env!("ZATO_BUILD_PYTHON") {
        "" => String::new(),
        v => format!("-py{v}"),
    };
    if rev.is_empty() {
        format!("Zato {major_minor}-nogit-linux{py}-{}", distro())
    } else {
        format!("Zato {major_minor}.{date}+rev.{rev}{py}-{}", distro())
    }
}
