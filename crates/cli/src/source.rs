//! Where `byoc` reads and writes routes: `--table NAME` (DynamoDB) or `--routes FILE`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use byoc_core::NumberPlan;
use byoc_dynamodb::{DynamoStore, Profile};
use byoc_store::{FileStore, MemoryStore, RouteAdmin, RouteStore};

use crate::EMBEDDED_ROUTES;

/// The store options every routes command takes.
#[derive(clap::Args, Clone, Debug)]
pub struct Source {
    /// JSON route file [env: ROUTES_FILE]
    #[arg(long, value_name = "FILE", conflicts_with = "table")]
    pub routes: Option<PathBuf>,
    /// DynamoDB routes table (endpoint and credentials from the standard AWS configuration)
    /// [env: ROUTES_TABLE]
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
}

/// An opened store.
pub struct Opened {
    pub store: Arc<dyn RouteStore>,
    pub admin: Arc<dyn RouteAdmin>,
    pub description: String,
}

fn open_parts<T: RouteStore + RouteAdmin + 'static>(store: T) -> Opened {
    let store = Arc::new(store);
    Opened {
        description: store.describe(),
        store: store.clone(),
        admin: store,
    }
}

impl Source {
    /// The store named on the command line, else in the environment: a flag beats the
    /// environment (`--table T` with `ROUTES_FILE` set uses the table).
    pub fn resolved(&self) -> anyhow::Result<Source> {
        let mut this = self.clone();
        this.check()?;
        Ok(this)
    }

    fn check(&mut self) -> anyhow::Result<()> {
        if self.routes.is_none() && self.table.is_none() {
            let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
            self.routes = env("ROUTES_FILE").map(PathBuf::from);
            self.table = env("ROUTES_TABLE");
            if self.routes.is_some() && self.table.is_some() {
                bail!(
                    "both ROUTES_FILE and ROUTES_TABLE are set in the environment: unset one, or name the store with --routes FILE or --table NAME"
                );
            }
        }
        Ok(())
    }

    /// Opens the store for reading; with none named, the embedded example route file.
    pub async fn open_read(&self, plan: &NumberPlan, profile: Profile) -> anyhow::Result<Opened> {
        let mut this = self.clone();
        this.check()?;
        this.open_checked_read(plan, profile).await
    }

    async fn open_checked_read(
        &self,
        plan: &NumberPlan,
        profile: Profile,
    ) -> anyhow::Result<Opened> {
        if self.routes.is_none() && self.table.is_none() {
            let store =
                MemoryStore::from_json(EMBEDDED_ROUTES, "embedded infra/routes.example.json", plan)
                    .context("embedded route file")?;
            return Ok(open_parts(store));
        }
        self.open(plan, profile, false).await
    }

    /// Opens the store for writing; one must be named. A missing route file is created.
    pub async fn open_write(&self, plan: &NumberPlan) -> anyhow::Result<Opened> {
        let mut this = self.clone();
        this.check()?;
        if this.routes.is_none() && this.table.is_none() {
            bail!("name the store to change: --table NAME or --routes FILE");
        }
        this.open(plan, Profile::Admin, true).await
    }

    async fn open(
        &self,
        plan: &NumberPlan,
        profile: Profile,
        create: bool,
    ) -> anyhow::Result<Opened> {
        if let Some(table) = &self.table {
            let client = byoc_dynamodb::client(profile).await;
            return Ok(open_parts(DynamoStore::new(
                client,
                table.clone(),
                plan.clone(),
            )));
        }
        let path = self.routes.as_ref().expect("checked above");
        let store = if create {
            FileStore::open_or_create(path, plan)?
        } else {
            FileStore::open(path, plan)?
        };
        Ok(open_parts(store))
    }
}
