//! The DynamoDB route store.
//!
//! # Item design
//! One table, partition key `pattern` (S), sort key `sk` (S):
//! - the route: `sk = "route"`; every field of its flat record (`RouteRecord`, the same mapping
//!   as a JSON route file record: `action`, `url`, `number`, `scope`, `callers`…) as an
//!   attribute of the same name, strings as S, `timeout` and `version` as N, the JSON-valued
//!   fields (`schedule`, `targets`, `final`, `shares`, `callers`, `task_attributes`) as their JSON text;
//!   absent fields are absent attributes; plus `updated_at`, `updated_by`;
//! - its history: `sk = "h#<unix ms, 13 digits>#<version, 10 digits>"` with `at`, `by`, `op`,
//!   `version` and `before` / `after` (the records as JSON). Only `byoc routes history` reads
//!   these; the call path never does.
//! - route items also carry `list_shard` (`0`–`7`), the partition key of the `routes` index
//!   (sort key `pattern`): history items have none, so listings read routes alone;
//! - `pattern = "#meta"`, `sk = "routes-index-ready"`: written once every route carries its
//!   `list_shard` (`byoc table create`, `byoc table migrate`); without it listings scan.
//!
//! A call costs at most one `BatchGetItem` (the exact key, every `prefix*` of the number and `*`:
//! at most 17 keys of the 100 allowed, 34 for a call with a scope), whatever the size of the table.
//!
//! Writes are conditional: a create requires the pattern to be absent, an update or delete
//! requires the version read. A single change writes the route and its history entry in one
//! transaction; an import writes each route conditionally and its history entries in batches
//! after. Two people editing at once never lose an update.
//!
//! | file | holds |
//! |---|---|
//! | `client.rs` | SDK client profiles, credentials, the CA bundle |
//! | `item.rs` | keys and the item mapping of routes and history |
//! | `store.rs` | [`DynamoStore`]: lookups, listing, single writes, table set-up and migration |
//! | `bulk.rs` | imports' writes |
//! | `source.rs` | which store a process uses (flags, then `ROUTES_TABLE` / `ROUTES_FILE`) |

mod bulk;
mod client;
mod item;
mod source;
mod store;

pub use client::*;
pub use item::*;
pub use source::*;
pub use store::*;

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::ProvideCredentials as _;
    use aws_sdk_dynamodb::types::AttributeValue;
    use byoc_core::RouteRecord;

    use super::{item_to_record, record_to_item, s, EnvThenDefault, SK_ROUTE};

    #[tokio::test]
    async fn credentials_from_the_environment_never_build_the_default_chain() {
        let provider = EnvThenDefault {
            env: aws_sdk_dynamodb::config::Credentials::new("AKID", "secret", None, None, "env"),
            chain: tokio::sync::OnceCell::new(),
        };
        let credentials = provider.provide_credentials().await.unwrap();
        assert_eq!(credentials.access_key_id(), "AKID");
        // The chain (an STS client, profile files) is cold-start work Lambda never needs.
        assert!(provider.chain.get().is_none());
    }

    #[test]
    fn records_map_to_items_and_back() {
        let record: RouteRecord = serde_json::from_str(
            r#"{"pattern":"+1317*","action":"dial","number":"+13175550000","timeout":20,"version":3,"updated_by":"ana","description":"x & y"}"#,
        )
        .unwrap();
        let item = record_to_item(&record);
        assert_eq!(item["timeout"], AttributeValue::N("20".into()));
        assert_eq!(item["version"], AttributeValue::N("3".into()));
        assert_eq!(item["sk"], s(SK_ROUTE));
        assert_eq!(item_to_record(&item).unwrap(), record);
        let mut bad = item.clone();
        bad.insert("color".into(), s("red"));
        assert!(item_to_record(&bad)
            .unwrap_err()
            .contains("unknown field `color`"));
    }
}

#[cfg(test)]
mod properties {
    use byoc_core::{NumberPlan, Route};
    use proptest::prelude::*;

    use super::{item_to_record, record_to_item};

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        /// Every valid route, with store metadata, survives the item mapping unchanged.
        #[test]
        fn routes_round_trip_through_dynamodb_items(
            route in byoc_core::strategy::route(),
            version in proptest::option::of(1u64..u64::MAX / 2),
            updated_by in proptest::option::of("[a-z@.]{1,20}"),
        ) {
            let mut record = route.to_record();
            record.version = version;
            record.updated_at = version.map(|_| "2026-11-27T05:00:00.000Z".to_string());
            record.updated_by = updated_by;
            let back = item_to_record(&record_to_item(&record)).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&back, &record);
            let plan = NumberPlan::default();
            prop_assert_eq!(Route::from_record(back, &plan).unwrap(), route);
        }
    }
}

#[cfg(test)]
mod shards {
    use super::{list_shard, LIST_SHARDS};

    /// The shard of a key is stored in the table: it must never change between versions.
    #[test]
    fn list_shards_are_stable_and_spread() {
        assert_eq!(list_shard("*"), "5");
        assert_eq!(list_shard("+13175551234"), list_shard("+13175551234"));
        let mut seen = std::collections::HashSet::new();
        for i in 0..200 {
            seen.insert(list_shard(&format!("+1317555{i:04}")));
        }
        assert_eq!(seen.len(), LIST_SHARDS as usize);
    }
}
