//! Enmasse import: the file (and its `include:` files, parts of the input separated by 0xFF)
//! read as `zato enmasse --import` does, then checked by the server as `zato.enmasse.import`
//! does against a fixed cluster. First byte: bit 0 JSON main file, bit 1
//! --ignore-missing-includes, bit 2 --replace, bit 3 --ignore-missing-defs, bit 4
//! --ignore-missing-env.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > 64 * 1024 {
        return;
    }
    let Some(&flags) = data.first() else {
        return;
    };
    if let Some((objects, _missing)) = zato_cli::fuzzing::enmasse_load(data) {
        zato_server::fuzzing::enmasse_plan(&objects, flags & 4 != 0, flags & 8 != 0);
    }
});
