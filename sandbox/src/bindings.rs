//! Generated host bindings for the `spindle:job/job` world. Never edited by hand;
//! the driver and executor implement the generated `Host` traits.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "job",
    imports: { default: async | trappable },
    exports: { default: async },
    with: {
        "spindle:job/context.dataset": crate::DatasetRef,
    },
});

pub use spindle::job::context::{Host as ContextHost, HostDataset};
pub use spindle::job::task_io::Host as TaskIoHost;
pub use spindle::job::types::Step;
