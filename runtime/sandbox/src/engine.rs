//! The engine, the linker, and loading components into reusable `InstancePre`s.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime::component::{Component, Linker};
use wasmtime::{
    Cache, CacheConfig, Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
};

use crate::bindings::{action, adapter};
use crate::error::{EngineError, LoadError};
use crate::host::HostState;
use lever_plugin::PluginKind;

/// How often the epoch advances: the granularity of deadlines and of yielding to other tasks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Engine-wide settings. Per-plugin limits live in [`crate::Limits`].
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where compiled code is cached, keyed by content digest and engine configuration.
    /// `None` disables the disk cache.
    pub cache_dir: Option<PathBuf>,
    /// Count fuel. Off only for measuring what metering costs.
    pub fuel_metering: bool,
    /// Invocations that can run at once (pooling allocator slots).
    pub max_concurrent_instances: u32,
    /// How much plugin- and run-scoped state each namespace may hold.
    pub state_quota: crate::StateQuota,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            fuel_metering: true,
            max_concurrent_instances: 256,
            state_quota: crate::StateQuota::default(),
        }
    }
}

/// The disk cache's answers to compilations since the sandbox started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompileCacheCounts {
    /// Compilations answered from the cache.
    pub hits: usize,
    /// Compilations the cache did not hold (compiled, then stored).
    pub misses: usize,
}

#[derive(Clone)]
pub(crate) enum Pre {
    Action(action::ActionPre<HostState>),
    Adapter(adapter::AdapterPre<HostState>),
}

/// A component compiled and linked once, ready to be instantiated per invocation. Clones share
/// the compiled code.
#[derive(Clone)]
pub struct Compiled {
    pub(crate) kind: PluginKind,
    pub(crate) pre: Pre,
    /// The engine it was compiled for: its instances are stores of this engine.
    pub(crate) engine: Engine,
}

impl Compiled {
    /// The world it targets.
    pub fn kind(&self) -> PluginKind {
        self.kind
    }
}

/// The sandboxed host. Cheap to share behind an `Arc`; one per process.
pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    /// Publishing's engine: the same compiler settings (so what it compiles lands in the same
    /// disk cache entry the runs' engine reads), but instances allocated on demand. A publish
    /// compiles a component, describes it once and drops it; in the pool, the slot that
    /// instance used would wait in wasmtime's batched decommit queue still holding the
    /// module's memory image and, through it, the module's compiled code, long after the
    /// module was dropped (a fresh start publishing 29 plugins kept ~30 MiB of code and
    /// ~100 MiB of heap that way).
    inspection: Engine,
    inspection_linker: Linker<HostState>,
    /// The compiled-code disk cache both engines share, when there is one.
    cache: Option<Cache>,
    pub(crate) fuel_metering: bool,
    pub(crate) state_quota: crate::StateQuota,
}

const ACTION_EXPORT: &str = "lever:plugin/action-handler@0.1.0";
const ADAPTER_EXPORT: &str = "lever:plugin/adapter-handler@0.1.0";

impl Sandbox {
    /// Builds the engine and the linker and starts the epoch ticker.
    pub fn new(config: &SandboxConfig) -> Result<Self, EngineError> {
        Self::build(config).map_err(|e| EngineError(format!("{e:#}")))
    }

    fn build(config: &SandboxConfig) -> wasmtime::Result<Self> {
        let cache = match &config.cache_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| {
                    wasmtime::format_err!("cannot create cache dir {}: {e}", dir.display())
                })?;
                let mut cache = CacheConfig::new();
                cache.with_directory(dir.clone());
                Some(Cache::new(cache)?)
            }
            None => None,
        };
        let pooled = InstanceAllocationStrategy::Pooling(pool_config(config));
        let engine = Engine::new(&engine_config(config, pooled, cache.clone()))?;
        let on_demand = InstanceAllocationStrategy::OnDemand;
        let inspection = Engine::new(&engine_config(config, on_demand, cache.clone()))?;
        let linker = linker_for(&engine)?;
        let inspection_linker = linker_for(&inspection)?;
        spawn_epoch_ticker(&engine, &inspection);
        Ok(Self {
            engine,
            linker,
            inspection,
            inspection_linker,
            cache,
            fuel_metering: config.fuel_metering,
            state_quota: config.state_quota,
        })
    }

    /// Checks that `bytes` is a component targeting a Lever world, compiles it (through the
    /// disk cache) and links it.
    pub fn load(&self, bytes: &[u8]) -> Result<Compiled, LoadError> {
        load_with(&self.engine, &self.linker, bytes)
    }

    /// How many compilations the disk cache answered and how many it missed since start, when
    /// there is a disk cache.
    pub fn compile_cache_counts(&self) -> Option<CompileCacheCounts> {
        self.cache.as_ref().map(|cache| CompileCacheCounts {
            hits: cache.cache_hits(),
            misses: cache.cache_misses(),
        })
    }

    /// As [`Sandbox::load`], for a component that is only to be described (publishing) and
    /// dropped: its instances are allocated on demand instead of in the runs' pool, so nothing
    /// of it stays behind once it is dropped. What it compiles fills the same disk cache entry
    /// [`Sandbox::load`] reads; a component over the pool's bounds is refused as `load` would.
    pub fn load_for_inspection(&self, bytes: &[u8]) -> Result<Compiled, LoadError> {
        let compiled = load_with(&self.inspection, &self.inspection_linker, bytes)?;
        // The runs' pool bounds memories, tables, core instances and their sizes, and only a
        // pooled engine checks a component against those bounds (when it builds it): build it
        // there too — from the cache entry just written, when there is a disk cache — so a component no run could load is
        // refused at publish, then drop it (built, never instantiated: it takes no slot).
        Component::new(&self.engine, bytes).map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
        Ok(compiled)
    }
}

/// Checks that `bytes` is a component targeting a Lever world, compiles it for `engine`
/// (through its disk cache) and links it with `linker`.
fn load_with(
    engine: &Engine,
    linker: &Linker<HostState>,
    bytes: &[u8],
) -> Result<Compiled, LoadError> {
    if !bytes.starts_with(b"\0asm") {
        return Err(LoadError::NotWasm);
    }
    if wasmparser::Parser::is_core_wasm(bytes) {
        return Err(LoadError::CoreModule);
    }
    if !wasmparser::Parser::is_component(bytes) {
        return Err(LoadError::NotWasm);
    }
    let component =
        Component::new(engine, bytes).map_err(|e| LoadError::Invalid(format!("{e:#}")))?;
    let exports: Vec<String> = component
        .component_type()
        .exports(engine)
        .map(|(name, _)| name.to_string())
        .collect();
    let kind = if exports.iter().any(|e| e == ACTION_EXPORT) {
        PluginKind::Action
    } else if exports.iter().any(|e| e == ADAPTER_EXPORT) {
        PluginKind::Adapter
    } else {
        let exports = if exports.is_empty() {
            "nothing".to_string()
        } else {
            exports.join(", ")
        };
        return Err(LoadError::NotALeverWorld { exports });
    };
    let instance_pre = linker
        .instantiate_pre(&component)
        .map_err(|e| LoadError::UnknownImport(format!("{e:#}")))?;
    let pre = match kind {
        PluginKind::Action => Pre::Action(
            action::ActionPre::new(instance_pre)
                .map_err(|e| LoadError::Invalid(format!("{e:#}")))?,
        ),
        PluginKind::Adapter => Pre::Adapter(
            adapter::AdapterPre::new(instance_pre)
                .map_err(|e| LoadError::Invalid(format!("{e:#}")))?,
        ),
    };
    Ok(Compiled {
        kind,
        pre,
        engine: engine.clone(),
    })
}

/// The pool of the runs' engine: slots for `max_concurrent_instances` invocations.
fn pool_config(config: &SandboxConfig) -> PoolingAllocationConfig {
    let mut pool = PoolingAllocationConfig::default();
    let slots = config.max_concurrent_instances.max(1);
    pool.total_component_instances(slots)
        .total_core_instances(slots * 16)
        .total_memories(slots * 2)
        .total_tables(slots * 8)
        .total_stacks(slots)
        .max_memories_per_component(8)
        .max_tables_per_component(32)
        .max_core_instances_per_component(64)
        .max_component_instance_size(4 * 1024 * 1024)
        .table_elements(200_000)
        .max_memory_size(4 << 30)
        .table_keep_resident(16 * 1024)
        // Decommit freed slots in batches: one madvise (and one TLB shootdown) per batch
        // instead of one per invocation.
        .decommit_batch_size(128);
    pool
}

/// The compiler and runtime settings both engines share; only `strategy` differs, and it is
/// not part of the compiled code's cache key, so both read and write the same cache entries.
fn engine_config(
    config: &SandboxConfig,
    strategy: InstanceAllocationStrategy,
    cache: Option<Cache>,
) -> Config {
    let mut wasm = Config::new();
    wasm.wasm_component_model(true)
        .consume_fuel(config.fuel_metering)
        .epoch_interruption(true)
        .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(64))
        .memory_init_cow(true)
        .max_wasm_stack(1 << 20)
        .allocation_strategy(strategy)
        .cache(cache);
    wasm
}

/// What a plugin may import: WASI p2 (deny-by-default contexts), `wasi:http`, Lever's host
/// interfaces and the capability interfaces.
fn linker_for(engine: &Engine) -> wasmtime::Result<Linker<HostState>> {
    use wasmtime::component::HasSelf;
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    crate::bindings::secrets::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    crate::bindings::state::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    crate::bindings::progress::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    crate::bindings::git_provider::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    crate::bindings::secrets_store::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    crate::bindings::infrastructure::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    crate::bindings::notifier::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    crate::bindings::observability::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    crate::bindings::software_catalog::add_to_linker::<_, HasSelf<HostState>>(&mut linker, |s| s)?;
    Ok(linker)
}

/// Advances both engines' epochs every [`EPOCH_TICK`], from one thread, until the runs' engine
/// is dropped (the inspection engine lives and dies with it, in the same `Sandbox`).
fn spawn_epoch_ticker(engine: &Engine, inspection: &Engine) {
    let (weak, inspection) = (engine.weak(), inspection.weak());
    std::thread::Builder::new()
        .name("lever-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                if let Some(inspection) = inspection.upgrade() {
                    inspection.increment_epoch();
                }
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawn epoch thread");
}
