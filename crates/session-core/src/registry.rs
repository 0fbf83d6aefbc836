//! Providers by name. Each registered [`Provider`] is a factory: every manager opens its own
//! store, so two managers never share (and re-initialise) one provider instance.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::error::{Error, Result};
use crate::store::{Provider, ProviderContext, RawStore};

/// A set of providers, looked up by name.
#[derive(Clone, Default)]
pub struct Registry {
    providers: BTreeMap<&'static str, Arc<dyn Provider>>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("providers", &self.names())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry::default()
    }

    /// Registers `provider` under its name; a name registered twice is an error.
    pub fn register(&mut self, provider: impl Provider) -> Result<&mut Self> {
        let name = provider.name();
        if self.providers.contains_key(name) {
            return Err(Error::DuplicateProvider(name.to_owned()));
        }
        self.providers.insert(name, Arc::new(provider));
        Ok(self)
    }

    /// Builder form of [`Registry::register`].
    pub fn with(mut self, provider: impl Provider) -> Result<Self> {
        self.register(provider)?;
        Ok(self)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.providers.keys().map(|n| (*n).to_owned()).collect()
    }

    /// Opens a new store of provider `name` with `config`. An unknown name is an error that
    /// lists the registered ones.
    pub async fn open(
        &self,
        name: &str,
        config: &str,
        ctx: &ProviderContext,
    ) -> Result<Arc<dyn RawStore>> {
        let provider = self
            .providers
            .get(name)
            .ok_or_else(|| Error::UnknownProvider {
                name: name.to_owned(),
                registered: self.names(),
            })?;
        provider.open(config, ctx).await
    }
}
