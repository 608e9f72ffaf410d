//! The admin-service reference in `docs/admin-services.md`, made from each service's [`Io`]
//! declaration; a test fails when the file and the code disagree
//! (`ZATO_UPDATE_DOCS=1 cargo test -p zato-server reference` rewrites it).
use super::Io;

/// The reference as Markdown, services sorted by name.
pub fn markdown<'a>(services: impl IntoIterator<Item = (&'a str, &'a Io)>) -> String {
    let mut all: Vec<(&str, &Io)> = services.into_iter().collect();
    all.sort_by_key(|(name, _)| *name);
    let list = |keys: &[&str]| {
        keys.iter()
            .map(|k| format!("`{k}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // A create shares its field list with the edit: what it requires (or an alternative
    // to it) is not listed again as optional.
    let optional = |io: &Io| -> Vec<&str> {
        let alts: Vec<&str> = io
            .required
            .iter()
            .flat_map(|k| alternatives(k, io))
            .collect();
        io.optional
            .iter()
            .copied()
            .filter(|k| !io.required.contains(k) && !alts.contains(k))
            .collect()
    };
    let required = |io: &Io| -> Vec<String> {
        io.required
            .iter()
            .map(|k| {
                std::iter::once(*k)
                    .chain(alternatives(k, io))
                    .map(|k| format!("`{k}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            })
            .collect()
    };
    let mut out = String::from(
        "# Admin services\n\n\
         Generated from the code (`server/src/admin/reference.rs`); do not edit by hand.\n\n\
         Every service is invoked through `POST /zato/admin/invoke` (or `zato service invoke`).\n\
         Input keys not listed are refused with the closest known key named; `cluster_id` is\n\
         accepted everywhere. Errors answer 400 for bad input, 404 for a missing object, 409 for\n\
         a conflict (a name or a channel path taken, an object still in use).\n\n",
    );
    for (name, io) in all {
        let required = required(io);
        out.push_str(&format!("## `{name}`\n\n{}\n\n", io.doc));
        if !required.is_empty() {
            out.push_str(&format!("- Required: {}\n", required.join(", ")));
        }
        for (label, keys) in [
            ("Optional", &optional(io)[..]),
            ("Accepted from upstream, no effect", io.ignored),
            (
                "Upstream features not supported (accepted only empty)",
                io.unsupported,
            ),
            ("Output", io.output),
        ] {
            if !keys.is_empty() {
                out.push_str(&format!("- {label}: {}\n", list(keys)));
            }
        }
        if io.any_input {
            out.push_str("- Input: anything (ignored)\n");
        }
        out.push('\n');
    }
    out
}

/// The keys that may name a required reference instead of its id (`def_name` for `def_id`;
/// `service` or `service_name` for `service_id`), as the services accept them.
fn alternatives(key: &str, io: &Io) -> Vec<&'static str> {
    let Some(stem) = key.strip_suffix("_id") else {
        return Vec::new();
    };
    let by_name = format!("{stem}_name");
    io.optional
        .iter()
        .copied()
        .filter(|k| *k == by_name || (stem == "service" && *k == "service"))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn reference_is_current() {
        let registry = super::super::registry();
        let text = super::markdown(registry.iter().map(|(n, s)| (*n, s.io())));
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/admin-services.md");
        if std::env::var_os("ZATO_UPDATE_DOCS").is_some() {
            std::fs::write(path, &text).unwrap();
        }
        let on_disk = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            on_disk == text,
            "docs/admin-services.md is out of date; run ZATO_UPDATE_DOCS=1 cargo test -p zato-server reference"
        );
        for (name, svc) in &registry {
            assert!(!svc.io().doc.is_empty(), "{name} has no doc line");
        }
    }
}
