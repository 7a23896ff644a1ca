//! What a module asks for and offers, checked against the ABI, the registry and
//! the manifest before anything runs: its ABI version marker, its imports grouped
//! by capability (an undeclared capability is caught here, at load), and the types
//! of its lifecycle exports.

use crate::capability::Registry;
use crate::error::LoadError;
use crate::manifest::Manifest;
use miniapp_abi::{self as abi, ABI_VERSION, AbiVersion};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use wasmtime::{ExternType, Module, ValType};

/// The import group of WASI preview 1 functions.
pub const WASI_GROUP: &str = "wasi";

/// What a module imports and exports, and what is wrong with it.
#[derive(Debug, Serialize)]
pub struct ModuleAnalysis {
    /// The ABI version the module's marker names, if it has a well-formed one.
    pub abi_version: Option<String>,
    /// Imported function names, grouped by capability (`wasi` for WASI; the raw
    /// module name for modules the host does not provide).
    pub imports: BTreeMap<String, Vec<String>>,
    /// Capabilities the module imports.
    pub imported_capabilities: BTreeSet<String>,
    /// Every problem found, as load errors; loading fails on the first.
    #[serde(serialize_with = "errors_as_text")]
    pub problems: Vec<LoadError>,
    #[serde(skip)]
    pub(crate) parsed_version: Option<AbiVersion>,
}

fn errors_as_text<S: serde::Serializer>(errors: &[LoadError], serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(errors.iter().map(|e| serde_json::json!({"code": e.code(), "message": e.to_string()})))
}

#[derive(Clone, Copy)]
enum Requirement {
    Required,
    Optional,
}

/// `(name, params, results, requirement)` of every function export the ABI defines.
const FUNCTION_EXPORTS: &[(&str, usize, usize, Requirement)] = &[
    (abi::EXPORT_ALLOC, 1, 1, Requirement::Required),
    (abi::EXPORT_ON_LAUNCH, 2, 1, Requirement::Required),
    (abi::EXPORT_ON_SHOW, 0, 1, Requirement::Optional),
    (abi::EXPORT_ON_HIDE, 0, 1, Requirement::Optional),
    (abi::EXPORT_ON_EVENT, 2, 1, Requirement::Optional),
    (abi::EXPORT_INITIALIZE, 0, 0, Requirement::Optional),
];

/// A script runtime's module exports `miniapp_runtime_load(ptr, len) -> status`.
fn check_runtime_export(module: &Module, program: &str, problems: &mut Vec<LoadError>) {
    let problem = match module.get_export(abi::EXPORT_RUNTIME_LOAD) {
        None => Some("is missing: the module is not a script runtime".to_string()),
        Some(ExternType::Func(func)) if signature_is(func.params(), func.results(), 2, 1) => None,
        Some(_) => Some("must be a function (i32, i32) -> i32".to_string()),
    };
    if let Some(problem) = problem {
        problems.push(LoadError::ExportInvalid {
            program: program.to_string(),
            name: abi::EXPORT_RUNTIME_LOAD.into(),
            problem,
        });
    }
}

/// Analyses `module` for the program described by `manifest`.
pub fn analyze(module: &Module, manifest: &Manifest, registry: &Registry) -> ModuleAnalysis {
    let program = manifest.id.clone();
    let mut problems = Vec::new();
    let mut imports: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut imported_capabilities = BTreeSet::new();

    for import in module.imports() {
        let (module_name, name) = (import.module(), import.name());
        let unknown = |reason: &str| LoadError::UnknownImport {
            program: program.clone(),
            module: module_name.to_string(),
            name: name.to_string(),
            reason: reason.to_string(),
        };
        let ExternType::Func(func) = import.ty() else {
            problems.push(unknown("only functions may be imported"));
            continue;
        };
        if module_name == abi::WASI_MODULE {
            imports.entry(WASI_GROUP.into()).or_default().push(name.into());
            continue;
        }
        let Some(capability) = module_name.strip_prefix(abi::IMPORT_MODULE_PREFIX) else {
            imports.entry(module_name.into()).or_default().push(name.into());
            problems.push(unknown("only `wasi_snapshot_preview1` and `miniapp:<capability>` modules exist"));
            continue;
        };
        imports.entry(capability.into()).or_default().push(name.into());
        imported_capabilities.insert(capability.to_string());
        if registry.get(capability).is_none() {
            problems.push(LoadError::UnknownCapability {
                program: program.clone(),
                capability: capability.into(),
                place: format!("imported as `{module_name}.{name}`"),
                offered: registry.names().collect::<Vec<_>>().join(", "),
            });
            continue;
        }
        if !registry.has_function(capability, name) {
            problems.push(unknown(&format!("capability `{capability}` has no function `{name}` in ABI {ABI_VERSION}")));
            continue;
        }
        if !signature_is(func.params(), func.results(), 3, 1) {
            problems.push(unknown("host functions have the signature (i32, i32, i32) -> i32"));
            continue;
        }
        // A script runtime imports every capability for whichever its programs
        // use; a script program may call only what it declares, checked per call.
        if !manifest.capabilities.contains_key(capability) && manifest.script().is_none() {
            problems.push(LoadError::UndeclaredCapability {
                program: program.clone(),
                capability: capability.into(),
                module: module_name.into(),
                function: name.into(),
            });
        }
    }

    let parsed_version = check_version_marker(module, &program, &mut problems);
    check_exports(module, &program, &mut problems);
    if manifest.script().is_some() {
        check_runtime_export(module, &program, &mut problems);
    }

    ModuleAnalysis {
        abi_version: parsed_version.map(|v| v.to_string()),
        imports,
        imported_capabilities,
        problems,
        parsed_version,
    }
}

fn check_version_marker(module: &Module, program: &str, problems: &mut Vec<LoadError>) -> Option<AbiVersion> {
    let markers: Vec<(String, Result<AbiVersion, String>)> = module
        .exports()
        .filter_map(|export| AbiVersion::from_marker_export(export.name()).map(|v| (export.name().to_string(), v)))
        .collect();
    let invalid = |reason: String| LoadError::AbiMarkerInvalid { program: program.to_string(), reason };
    match markers.as_slice() {
        [] => {
            problems.push(LoadError::AbiVersionMissing {
                program: program.to_string(),
                expected: ABI_VERSION.marker_export(),
            });
            None
        }
        [(_, Err(reason))] => {
            problems.push(invalid(reason.clone()));
            None
        }
        [(name, Ok(_))] if !is_plain_function(module, name) => {
            problems.push(invalid(format!("the ABI version marker `{name}` must be a function of type () -> ()")));
            None
        }
        [(_, Ok(version))] => {
            if version.major != ABI_VERSION.major || version.minor > ABI_VERSION.minor {
                problems.push(LoadError::AbiVersionUnsupported {
                    program: program.to_string(),
                    found: *version,
                    supported: ABI_VERSION,
                });
            }
            Some(*version)
        }
        several => {
            let names: Vec<&str> = several.iter().map(|(name, _)| name.as_str()).collect();
            problems.push(invalid(format!("the module exports several ABI version markers: {}", names.join(", "))));
            None
        }
    }
}

/// Whether export `name` is a function without parameters or results.
fn is_plain_function(module: &Module, name: &str) -> bool {
    match module.get_export(name) {
        Some(ExternType::Func(func)) => func.params().len() == 0 && func.results().len() == 0,
        _ => false,
    }
}

fn check_exports(module: &Module, program: &str, problems: &mut Vec<LoadError>) {
    let invalid = |name: &str, problem: String| LoadError::ExportInvalid {
        program: program.to_string(),
        name: name.to_string(),
        problem,
    };
    match module.get_export(abi::EXPORT_MEMORY) {
        Some(ExternType::Memory(memory)) if memory.is_64() || memory.is_shared() => {
            problems.push(invalid(abi::EXPORT_MEMORY, "must be an unshared 32-bit memory".into()));
        }
        Some(ExternType::Memory(_)) => {}
        Some(_) => problems.push(invalid(abi::EXPORT_MEMORY, "must be a memory".into())),
        None => problems.push(invalid(abi::EXPORT_MEMORY, "is missing (the ABI exchanges messages through it)".into())),
    }
    for &(name, params, results, requirement) in FUNCTION_EXPORTS {
        let expected = signature_text(params, results);
        match (module.get_export(name), requirement) {
            (Some(ExternType::Func(func)), _) => {
                if !signature_is(func.params(), func.results(), params, results) {
                    problems.push(invalid(name, format!("must have the signature {expected}")));
                }
            }
            (Some(_), _) => problems.push(invalid(name, format!("must be a function {expected}"))),
            (None, Requirement::Required) => {
                problems.push(invalid(name, format!("is missing (required: a function {expected})")))
            }
            (None, Requirement::Optional) => {}
        }
    }
}

fn signature_is(
    params: impl ExactSizeIterator<Item = ValType>,
    mut results: impl ExactSizeIterator<Item = ValType>,
    param_count: usize,
    result_count: usize,
) -> bool {
    let mut params = params;
    params.len() == param_count
        && results.len() == result_count
        && params.all(|t| matches!(t, ValType::I32))
        && results.all(|t| matches!(t, ValType::I32))
}

fn signature_text(params: usize, results: usize) -> String {
    let list = |n: usize| vec!["i32"; n].join(", ");
    match results {
        0 => format!("({})", list(params)),
        _ => format!("({}) -> {}", list(params), list(results)),
    }
}
