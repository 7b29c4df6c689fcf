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
    /// JSON route file
    #[arg(
        long,
        env = "ROUTES_FILE",
        value_name = "FILE",
        conflicts_with = "table"
    )]
    pub routes: Option<PathBuf>,
    /// DynamoDB routes table (endpoint and credentials from the standard AWS configuration)
    #[arg(long, env = "ROUTES_TABLE", value_name = "NAME")]
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
    fn check(&self) -> anyhow::Result<()> {
        if self.routes.is_some() && self.table.is_some() {
            bail!(
                "both a route file and a table are named (ROUTES_FILE / ROUTES_TABLE?): name one"
            );
        }
        Ok(())
    }

    /// Opens the store for reading; with none named, the embedded example route file.
    pub async fn open_read(&self, plan: &NumberPlan, profile: Profile) -> anyhow::Result<Opened> {
        self.check()?;
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
        self.check()?;
        if self.routes.is_none() && self.table.is_none() {
            bail!("name the store to change: --table NAME or --routes FILE");
        }
        self.open(plan, Profile::Admin, true).await
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
