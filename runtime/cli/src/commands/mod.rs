//! One module per subcommand.

pub(crate) mod audit;
pub(crate) mod plugin;
pub(crate) mod policy;
pub(crate) mod run;
pub(crate) mod serve;
pub(crate) mod template;
pub(crate) mod token;
