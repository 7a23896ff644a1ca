//! What the engine agrees to compile. Compiling is the one step of loading whose
//! cost a module's author controls (50 MB of code takes seconds, 100,000 tiny
//! functions take hundreds of megabytes), so a module's size, functions and
//! imports are counted before any compilation, against documented limits. The
//! count is one pass of the module's section headers and sizes: no code is
//! compiled or validated here.

use crate::config::Limits;
use std::borrow::Cow;

/// A module the engine refused before compiling it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The bytes are neither a binary module nor, where text is allowed, WAT.
    NotWasm(String),
    /// A count is over its limit.
    Limit {
        /// What was counted, in words.
        what: &'static str,
        /// The configuration key of the limit.
        key: &'static str,
        /// How many there are.
        actual: u64,
        /// The limit.
        limit: u64,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NotWasm(reason) => f.write_str(reason),
            Refusal::Limit { what, key, actual, limit } => {
                write!(f, "the module has {actual} {what}, over the limit of {limit} ({key})")
            }
        }
    }
}

/// How module text may be given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Binary only: a file whose name does not end in `.wat`.
    Binary,
    /// Binary, or WAT text: a `.wat` file, or bytes an embedder hands over.
    BinaryOrText,
}

/// The binary module for `bytes` and its shape, once it is within `limits`. Text
/// is converted to binary only where `format` allows it; the size limit applies to
/// what was given.
pub(crate) fn admit<'a>(bytes: &'a [u8], format: Format, limits: &Limits) -> Result<(Cow<'a, [u8]>, Shape), Refusal> {
    check(bytes.len() as u64, limits.module_bytes, "bytes", "limits.module_bytes")?;
    let binary = if bytes.starts_with(b"\0asm") {
        Cow::Borrowed(bytes)
    } else if format == Format::BinaryOrText {
        Cow::Owned(
            wat::parse_bytes(bytes).map_err(|e| Refusal::NotWasm(crate::error::one_line(&e.to_string())))?.into_owned(),
        )
    } else {
        return Err(Refusal::NotWasm(
            "the file does not start with the WebAssembly magic bytes `\\0asm` (a text module must be named `.wat`)"
                .into(),
        ));
    };
    let shape = Shape::of(&binary)?;
    admit_shape(bytes.len() as u64, &shape, limits)?;
    Ok((binary, shape))
}

/// Checks a module of `size` bytes (as given) and `shape` against `limits`: what
/// [`admit`] checks, for a module whose shape is already known.
pub(crate) fn admit_shape(size: u64, shape: &Shape, limits: &Limits) -> Result<(), Refusal> {
    check(size, limits.module_bytes, "bytes", "limits.module_bytes")?;
    check(shape.functions, limits.module_functions, "functions", "limits.module_functions")?;
    check(shape.imports, limits.module_imports, "imports", "limits.module_imports")?;
    // Minimums the instance could never be given: refused here with the limit's
    // name, not by the instance allocator in its own words.
    check(shape.initial_memory_bytes, limits.memory_bytes, "bytes of initial memory", "limits.memory_bytes")?;
    check(shape.initial_table_elements, limits.table_elements, "initial table elements", "limits.table_elements")?;
    check(shape.memories, 1, "memories", "the ABI's one memory")?;
    check(shape.tables, MAX_TABLES, "tables", "tables per module")?;
    Ok(())
}

pub(crate) const MAX_TABLES: u64 = 4;

fn check(actual: u64, limit: u64, what: &'static str, key: &'static str) -> Result<(), Refusal> {
    if actual > limit { Err(Refusal::Limit { what, key, actual, limit }) } else { Ok(()) }
}

/// What the section headers say about a module.
/// What admission counts in a module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Functions defined.
    pub functions: u64,
    /// Imports declared.
    pub imports: u64,
    /// Memories, imported or defined.
    pub memories: u64,
    /// Tables, imported or defined.
    pub tables: u64,
    /// The largest initial memory, in bytes.
    pub initial_memory_bytes: u64,
    /// The largest initial table, in elements.
    pub initial_table_elements: u64,
}

impl Shape {
    fn of(binary: &[u8]) -> Result<Shape, Refusal> {
        let mut shape = Shape::default();
        let invalid = |e: wasmparser::BinaryReaderError| Refusal::NotWasm(e.to_string());
        for payload in wasmparser::Parser::new(0).parse_all(binary) {
            match payload.map_err(invalid)? {
                wasmparser::Payload::FunctionSection(reader) => shape.functions += u64::from(reader.count()),
                wasmparser::Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        shape.imports += 1;
                        match import.map_err(invalid)?.ty {
                            wasmparser::TypeRef::Memory(memory) => shape.memory(&memory),
                            wasmparser::TypeRef::Table(table) => shape.table(&table),
                            _ => {}
                        }
                    }
                }
                wasmparser::Payload::MemorySection(reader) => {
                    for memory in reader {
                        shape.memory(&memory.map_err(invalid)?);
                    }
                }
                wasmparser::Payload::TableSection(reader) => {
                    for table in reader {
                        shape.table(&table.map_err(invalid)?.ty);
                    }
                }
                // Bodies are not parsed: skipping them keeps the count one cheap pass.
                wasmparser::Payload::CodeSectionStart { count, .. } => {
                    shape.functions = shape.functions.max(u64::from(count))
                }
                _ => {}
            }
        }
        Ok(shape)
    }

    fn memory(&mut self, memory: &wasmparser::MemoryType) {
        self.memories += 1;
        let page = 1u64 << memory.page_size_log2.unwrap_or(16);
        self.initial_memory_bytes = self.initial_memory_bytes.max(memory.initial.saturating_mul(page));
    }

    fn table(&mut self, table: &wasmparser::TableType) {
        self.tables += 1;
        self.initial_table_elements = self.initial_table_elements.max(table.initial);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits { module_bytes: 1 << 20, module_functions: 3, module_imports: 2, ..Limits::default() }
    }

    #[test]
    fn counts_are_checked_before_compiling() {
        let module = "(module (func) (func) (func) (func))";
        let refusal = admit(module.as_bytes(), Format::BinaryOrText, &limits()).unwrap_err();
        assert_eq!(refusal.to_string(), "the module has 4 functions, over the limit of 3 (limits.module_functions)");
        let imports = r#"(module (import "a" "b" (func)) (import "a" "c" (func)) (import "a" "d" (func)))"#;
        let refusal = admit(imports.as_bytes(), Format::BinaryOrText, &limits()).unwrap_err();
        assert!(refusal.to_string().contains("(limits.module_imports)"), "{refusal}");
        let small = Limits { module_bytes: 10, ..limits() };
        let refusal = admit(module.as_bytes(), Format::BinaryOrText, &small).unwrap_err();
        assert!(refusal.to_string().contains("bytes, over the limit of 10 (limits.module_bytes)"), "{refusal}");
        assert!(admit(b"(module (func))", Format::BinaryOrText, &limits()).is_ok());
    }

    #[test]
    fn text_is_parsed_only_where_allowed() {
        let refusal = admit(b"(module)", Format::Binary, &limits()).unwrap_err();
        assert!(refusal.to_string().contains("must be named `.wat`"), "{refusal}");
        assert!(admit(b"(module)", Format::BinaryOrText, &limits()).is_ok());
        assert!(matches!(admit(b"\0asm\x01\0\0\0", Format::Binary, &limits()), Ok((Cow::Borrowed(_), _))));
    }
}
