//! Where `byoc` reads and writes routes: `--table NAME` (DynamoDB) or `--routes FILE`, else
//! `ROUTES_TABLE` / `ROUTES_FILE`, by the one rule of `byoc_dynamodb::StoreSource`.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use byoc_core::NumberPlan;
use byoc_dynamodb::{OpenedStore, Profile, StoreSource};
use byoc_store::{MemoryStore, RouteStore};

use crate::EMBEDDED_ROUTES;

/// The store options every routes command takes.
#[derive(clap::Args, Clone, Debug)]
pub struct Source {
    /// JSON route file [env: ROUTES_FILE]
    #[arg(long, value_name = "FILE", conflicts_with = "table")]
    pub routes: Option<PathBuf>,
    /// DynamoDB routes table (credentials and region from the standard AWS configuration; a
    /// local DynamoDB-API server from AWS_ENDPOINT_URL_DYNAMODB or DYNAMODB_ENDPOINT_URL)
    /// [env: ROUTES_TABLE]
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
}

impl Source {
    /// The store these flags (else the environment) name.
    pub fn choice(&self) -> anyhow::Result<StoreSource> {
        Ok(StoreSource::resolve(
            self.table.clone(),
            self.routes.clone(),
            byoc_web::config::var,
        )?)
    }

    /// Opens the store for reading; with none named, the embedded example route file.
    pub async fn open_read(
        &self,
        plan: &NumberPlan,
        profile: Profile,
    ) -> anyhow::Result<OpenedStore> {
        match self.choice()?.open(plan, profile, false).await? {
            Some(opened) => Ok(opened),
            None => {
                let store = Arc::new(
                    MemoryStore::from_json(
                        EMBEDDED_ROUTES,
                        "embedded infra/routes.example.json",
                        plan,
                    )
                    .context("embedded route file")?,
                );
                Ok(OpenedStore {
                    description: store.describe(),
                    store: store.clone(),
                    admin: store,
                })
            }
        }
    }

    /// Opens, read-only, the store a write would change, for a dry run: it shows what the
    /// write would do, so a route file that does not exist yet is the empty file the write
    /// would create. With no store named, the file is checked against the embedded example.
    pub async fn open_dry_run(&self, plan: &NumberPlan) -> anyhow::Result<OpenedStore> {
        let choice = self.choice()?;
        if let StoreSource::File(path) = &choice {
            if !path.exists() {
                let parent = path
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                if !parent.is_dir() {
                    bail!(
                        "the route file {} cannot be created: its directory {} does not exist",
                        path.display(),
                        parent.display()
                    );
                }
                let store = Arc::new(MemoryStore::new());
                return Ok(OpenedStore {
                    description: format!(
                        "route file {} (does not exist yet: the write would create it)",
                        path.display()
                    ),
                    store: store.clone(),
                    admin: store,
                });
            }
        }
        self.open_read(plan, Profile::Admin).await
    }

    /// Opens the store for writing; one must be named. A missing route file is created.
    pub async fn open_write(&self, plan: &NumberPlan) -> anyhow::Result<OpenedStore> {
        match self.choice()?.open(plan, Profile::Admin, true).await? {
            Some(opened) => Ok(opened),
            None => bail!("name the store to change: --table NAME or --routes FILE"),
        }
    }
}
