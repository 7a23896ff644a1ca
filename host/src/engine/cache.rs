//! Compiled modules, cached in memory and on disk.
//!
//! A module is keyed by the SHA-256 of its bytes; on disk the key also carries the
//! engine's compatibility hash, so a different wasmtime version or engine setting
//! never loads another's code. Files are written to a temporary name and renamed,
//! so a crash leaves either a whole file or none. Memory holds the most recently
//! used modules, up to `engine.modules_in_memory`; the rest are mapped from disk
//! again when next loaded.

use super::files::FileRegistry;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use wasmtime::{Engine, Module};

/// A memory slot: filled once with the module of its key.
type Slot = Arc<Mutex<Option<Module>>>;

pub(crate) struct ModuleCache {
    dir: Option<PathBuf>,
    /// One slot per module hash. A slot is filled once: loaders of the same bytes
    /// that arrive while it is being compiled wait for that compilation instead of
    /// compiling again (a thousand programs starting at once from one module
    /// compile it once).
    memory: Mutex<Memory>,
    /// Keys no derived module can be made for, with why.
    refusals: Mutex<HashMap<String, String>>,
    /// Module files known unchanged since they were last hashed.
    files: FileRegistry,
    /// The digest of the engine's compatibility hash that names its files.
    engine_tag: std::sync::OnceLock<u64>,
}

/// A compiled module and the hex SHA-256 of its bytes.
pub(crate) struct CompiledModule {
    pub module: Module,
    pub hash: String,
}

impl ModuleCache {
    /// A cache that keeps up to `in_memory` modules in memory and also persists
    /// to `dir`, if given.
    pub(crate) fn new(dir: Option<PathBuf>, in_memory: usize) -> ModuleCache {
        let files = FileRegistry::new(dir.as_deref());
        ModuleCache {
            dir,
            memory: Mutex::new(Memory { slots: HashMap::new(), used: VecDeque::new(), capacity: in_memory }),
            refusals: Mutex::new(HashMap::new()),
            files,
            engine_tag: std::sync::OnceLock::new(),
        }
    }

    /// The module for `bytes` (binary or text format), compiling it only if no cache
    /// has it. Compilation is CPU-bound and waiting for another loader's
    /// compilation blocks: call from a blocking context.
    pub(crate) fn load(&self, engine: &Engine, bytes: &[u8]) -> wasmtime::Result<CompiledModule> {
        let hash = hex::encode(Sha256::digest(bytes));
        let slot = self.slot(&hash);
        let mut slot = lock(&slot);
        if let Some(module) = slot.as_ref() {
            return Ok(CompiledModule { module: module.clone(), hash });
        }
        let module = match self.disk_path(engine, &hash) {
            Some(path) => match load_from_disk(engine, &path) {
                Some(module) => module,
                None => {
                    let module = Module::new(engine, bytes)?;
                    if let Err(error) = store_on_disk(&module, &path) {
                        tracing::warn!(path = %path.display(), %error, "cannot write the module cache");
                    }
                    module
                }
            },
            None => Module::new(engine, bytes)?,
        };
        *slot = Some(module.clone());
        drop(slot);
        self.trim();
        Ok(CompiledModule { module, hash })
    }

    /// The module files the cache knows unchanged.
    pub(crate) fn files(&self) -> &FileRegistry {
        &self.files
    }

    /// The module kept under `key`, if memory or disk has it; nothing is
    /// compiled. `key` is the hash of a module [`ModuleCache::load`] compiled, or
    /// the key of one [`ModuleCache::keep_derived`] kept: a derived module (a
    /// pre-initialised snapshot) is named by what it was made from, not by its
    /// own bytes, which differ each time it is made, so its key must be a digest
    /// of everything it was made from.
    pub(crate) fn kept(&self, engine: &Engine, key: &str) -> Option<Module> {
        let slot = lock(&self.memory).used(key);
        if let Some(module) = slot.and_then(|slot| lock(&slot).clone()) {
            return Some(module);
        }
        let module = load_from_disk(engine, &self.disk_path(engine, key)?)?;
        *lock(&self.slot(key)) = Some(module.clone());
        self.trim();
        Some(module)
    }

    /// Compiles `bytes` and keeps the module under `key` (see
    /// [`ModuleCache::kept`]), in memory and on disk. CPU-bound: call from a
    /// blocking context.
    pub(crate) fn keep_derived(&self, engine: &Engine, key: &str, bytes: &[u8]) -> wasmtime::Result<Module> {
        let module = Module::new(engine, bytes)?;
        if let Some(path) = self.disk_path(engine, key)
            && let Err(error) = store_on_disk(&module, &path)
        {
            tracing::warn!(path = %path.display(), %error, "cannot write the module cache");
        }
        *lock(&self.slot(key)) = Some(module.clone());
        self.trim();
        Ok(module)
    }

    /// The memory slot of `key`, made (empty) if new, marked as just used.
    fn slot(&self, key: &str) -> Slot {
        let mut memory = lock(&self.memory);
        if let Some(slot) = memory.used(key) {
            return slot;
        }
        let slot = Slot::default();
        memory.slots.insert(key.to_string(), slot.clone());
        memory.used.push_back(key.to_string());
        slot
    }

    /// Drops the least recently used filled modules past the capacity. A slot
    /// still being filled stays, so that loaders waiting on it are not joined
    /// by a second compilation of the same bytes.
    fn trim(&self) {
        let mut memory = lock(&self.memory);
        let Memory { slots, used, capacity } = &mut *memory;
        let mut excess = slots.len().saturating_sub(*capacity);
        let mut index = 0;
        while excess > 0 && index < used.len() {
            let filled = slots.get(&used[index]).is_some_and(|slot| slot.try_lock().is_ok_and(|s| s.is_some()));
            if filled {
                if let Some(key) = used.remove(index) {
                    slots.remove(&key);
                }
                excess -= 1;
            } else {
                index += 1;
            }
        }
    }

    /// Why no derived module could be made under `key`, if an earlier attempt
    /// said so ([`ModuleCache::keep_refusal`]): so that a program that cannot be
    /// pre-initialised is not instrumented and run again at every load.
    pub(crate) fn refusal(&self, engine: &Engine, key: &str) -> Option<String> {
        if let Some(reason) = lock(&self.refusals).get(key) {
            return Some(reason.clone());
        }
        let path = self.disk_path(engine, key)?.with_extension("refused");
        let reason = std::fs::read_to_string(path).ok()?;
        lock(&self.refusals).insert(key.to_string(), reason.clone());
        Some(reason)
    }

    /// Records why no derived module can be made under `key` (memory and disk).
    pub(crate) fn keep_refusal(&self, engine: &Engine, key: &str, reason: &str) {
        lock(&self.refusals).insert(key.to_string(), reason.to_string());
        if let Some(path) = self.disk_path(engine, key).map(|p| p.with_extension("refused"))
            && let Err(error) = write_atomically(&path, reason.as_bytes())
        {
            tracing::warn!(path = %path.display(), %error, "cannot write the module cache");
        }
    }

    fn disk_path(&self, engine: &Engine, hash: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        // One engine per cache: its compatibility hash is taken once.
        let engine_tag = *self.engine_tag.get_or_init(|| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            engine.precompile_compatibility_hash().hash(&mut hasher);
            hasher.finish()
        });
        Some(dir.join(format!("{hash}-{engine_tag:016x}.cwasm")))
    }
}

/// The modules in memory and the order they were last used in.
struct Memory {
    slots: HashMap<String, Slot>,
    /// Keys of `slots`, least recently used first.
    used: VecDeque<String>,
    capacity: usize,
}

impl Memory {
    /// The slot of `key`, if present, marked as just used.
    fn used(&mut self, key: &str) -> Option<Slot> {
        let slot = self.slots.get(key)?.clone();
        if let Some(position) = self.used.iter().position(|k| k == key)
            && let Some(key) = self.used.remove(position)
        {
            self.used.push_back(key);
        }
        Some(slot)
    }
}

fn load_from_disk(engine: &Engine, path: &Path) -> Option<Module> {
    if !path.is_file() {
        return None;
    }
    // SAFETY: files in the cache directory are written only by `store_on_disk` from
    // modules this engine compiled, atomically, and wasmtime checks each file's
    // header against the engine's version and settings before using it. The data
    // directory is trusted like the host binary itself.
    match unsafe { Module::deserialize_file(engine, path) } {
        Ok(module) => Some(module),
        Err(error) => {
            tracing::warn!(path = %path.display(), error = %format!("{error:#}"), "ignoring an unusable cached module");
            None
        }
    }
}

fn store_on_disk(module: &Module, path: &Path) -> Result<(), String> {
    let bytes = module.serialize().map_err(|e| format!("{e:#}"))?;
    write_atomically(path, &bytes)
}

/// Writes `bytes` to a temporary name and renames it to `path`.
pub(super) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = path.parent().ok_or("cache path has no directory")?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    // Unique to this write: hosts in one process may write the same entry at once.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let temporary = path.with_extension(format!("tmp{}-{write}", std::process::id()));
    std::fs::write(&temporary, bytes).map_err(|e| e.to_string())?;
    std::fs::rename(&temporary, path).map_err(|e| e.to_string())
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while compiling leaves the slot empty, which is a consistent state.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_loads_of_one_module_compile_it_once() {
        let engine = Engine::default();
        let cache = Arc::new(ModuleCache::new(None, 256));
        let wat = b"(module (func (export \"f\") (result i32) (i32.const 42)))".to_vec();
        let loaders: Vec<_> = (0..8)
            .map(|_| {
                let (engine, cache, wat) = (engine.clone(), cache.clone(), wat.clone());
                std::thread::spawn(move || cache.load(&engine, &wat).map(|compiled| compiled.module))
            })
            .collect();
        let modules: Vec<Module> = loaders.into_iter().map(|t| t.join().unwrap().unwrap()).collect();
        assert!(modules.windows(2).all(|pair| Module::same(&pair[0], &pair[1])), "each loader compiled its own copy");
    }

    #[test]
    fn a_derived_module_is_found_by_its_key_in_memory_and_on_disk() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = ModuleCache::new(Some(dir.path().to_path_buf()), 256);
        let key = "ab".repeat(32);
        assert!(cache.kept(&engine, &key).is_none());
        let wat = b"(module (func (export \"f\") (result i32) (i32.const 7)))";
        let kept = cache.keep_derived(&engine, &key, wat).unwrap();
        assert!(Module::same(&cache.kept(&engine, &key).unwrap(), &kept));
        // Another process (a fresh cache over the same directory) finds it on disk.
        let again = ModuleCache::new(Some(dir.path().to_path_buf()), 256);
        let from_disk = again.kept(&engine, &key).expect("the derived module is on disk");
        assert!(from_disk.get_export("f").is_some());
        assert!(again.kept(&engine, &"cd".repeat(32)).is_none(), "another key finds nothing");

        // A refusal is remembered the same way.
        let refused = "ef".repeat(32);
        assert!(cache.refusal(&engine, &refused).is_none());
        cache.keep_refusal(&engine, &refused, "calls the host at its top level");
        let fresh = ModuleCache::new(Some(dir.path().to_path_buf()), 256);
        assert_eq!(fresh.refusal(&engine, &refused).as_deref(), Some("calls the host at its top level"));
    }

    #[test]
    fn memory_keeps_the_most_recently_used_modules() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = ModuleCache::new(Some(dir.path().to_path_buf()), 2);
        let wat = |n: i32| format!("(module (func (export \"f\") (result i32) (i32.const {n})))").into_bytes();
        let first = cache.load(&engine, &wat(1)).unwrap();
        let second = cache.load(&engine, &wat(2)).unwrap();
        // Using the first makes the second the least recently used.
        assert!(Module::same(&cache.load(&engine, &wat(1)).unwrap().module, &first.module));
        cache.load(&engine, &wat(3)).unwrap();
        let in_memory = |hash: &str| lock(&cache.memory).slots.contains_key(hash);
        assert!(in_memory(&first.hash) && !in_memory(&second.hash), "the least recently used left memory");
        // The one that left is mapped from disk again: a new copy, the same code.
        let again = cache.kept(&engine, &second.hash).expect("on disk");
        assert!(!Module::same(&again, &second.module));
        assert!(again.get_export("f").is_some());
    }

    #[test]
    fn a_cache_of_no_modules_in_memory_maps_each_load_from_disk() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache = ModuleCache::new(Some(dir.path().to_path_buf()), 0);
        let wat = b"(module (func (export \"f\") (result i32) (i32.const 9)))";
        let first = cache.load(&engine, wat).unwrap();
        assert!(lock(&cache.memory).slots.is_empty());
        let second = cache.load(&engine, wat).unwrap();
        assert_eq!(first.hash, second.hash);
        assert!(!Module::same(&first.module, &second.module), "the second load mapped the compiled file again");
    }

    #[test]
    fn a_failed_compilation_is_not_cached() {
        let engine = Engine::default();
        let cache = ModuleCache::new(None, 256);
        assert!(cache.load(&engine, b"not wasm").is_err());
        assert!(cache.load(&engine, b"not wasm").is_err(), "the second load tries again and fails the same way");
    }
}
