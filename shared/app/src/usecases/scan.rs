//! The infrastructure scan: every provisioning artifact, and those that no live tenant owns.
//!
//! It reads the whole table with a paginated Scan. That is deliberate: the scan exists to find
//! items that no index or tenant points to any more. It is an operator command and never runs on
//! a request path.

use std::collections::{BTreeMap, HashMap};

use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::signup::Residency;
use serde::Serialize;

use super::Services;
use crate::aws::items::{Item, Reader};
use crate::keys;

/// One artifact that no live tenant owns.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Orphan {
    pub kind: &'static str,
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Default, Serialize)]
pub struct ScanReport {
    /// Artifacts found, by kind.
    pub artifacts: BTreeMap<&'static str, usize>,
    pub orphans: Vec<Orphan>,
}

impl ScanReport {
    pub fn is_clean(&self) -> bool {
        self.orphans.is_empty()
    }
}

pub async fn scan(services: &Services) -> anyhow::Result<ScanReport> {
    let items = scan_table(services).await?;
    let mut states: HashMap<String, TenantState> = HashMap::new();
    for item in &items {
        let r = Reader::new(item);
        if r.opt_s(keys::SK) == Some(keys::TENANT_SK) {
            if let (Some(id), Some(state)) = (r.opt_s("tenant_id"), r.opt_s("state")) {
                if let Ok(state) = TenantState::parse(state) {
                    states.insert(id.to_owned(), state);
                }
            }
        }
    }
    let live = |tenant_id: &str| states.get(tenant_id).is_some_and(|s| s.is_live());
    let mut report = ScanReport::default();
    let mut live_members: HashMap<String, u64> = HashMap::new();
    let mut cells: Vec<(String, u64, bool)> = Vec::new();

    for item in &items {
        let r = Reader::new(item);
        let pk = r.opt_s(keys::PK).unwrap_or_default();
        let sk = r.opt_s(keys::SK).unwrap_or_default();
        let owner = r.opt_s("tenant_id").unwrap_or_default();
        let kind: Option<&'static str> = if sk == keys::CLAIM_SK && pk.starts_with("SUBDOMAIN#") {
            Some("subdomain_claim")
        } else if sk == keys::CLAIM_SK && pk.starts_with("EMAIL#") {
            Some("email_claim")
        } else if sk == keys::CLAIM_SK && pk.starts_with("SLUG#") {
            Some("slug_claim")
        } else if pk.starts_with("PROVIDER#") && sk.starts_with(keys::CUSTOMER_PREFIX) {
            Some("provider_customer_entry")
        } else if pk.starts_with("TENANT#") && sk == keys::DATASTORE_SK {
            Some("data_store_and_data_key")
        } else if pk.starts_with("TENANT#") && sk == keys::CONFIG_SK {
            Some("configuration")
        } else if pk.starts_with("TENANT#") && sk == keys::MODULES_SK {
            Some("modules")
        } else if pk.starts_with("TENANT#") && sk == keys::INVITATION_SK {
            Some("invitation")
        } else if pk.starts_with("INVITE#") {
            Some("invitation_token")
        } else if pk.starts_with("CELL#") && sk.starts_with(keys::MEMBER_PREFIX) {
            Some("cell_member")
        } else {
            None
        };
        if pk.starts_with("CELL#") && sk == keys::CELL_SK {
            let used = r.opt_n::<u64>("used").ok().flatten().unwrap_or(0);
            cells.push((pk.to_owned(), used, pk.starts_with("CELL#dedicated-")));
            *report.artifacts.entry("cell").or_default() += 1;
            continue;
        }
        let Some(kind) = kind else { continue };
        *report.artifacts.entry(kind).or_default() += 1;
        if kind == "cell_member" && live(owner) {
            *live_members.entry(pk.to_owned()).or_default() += 1;
        }
        if !live(owner) {
            report.orphans.push(Orphan {
                kind,
                id: format!("{pk}/{sk}"),
                reason: owner_reason(owner, states.get(owner)),
            });
        }
    }
    for (cell, used, dedicated) in cells {
        let members = live_members.get(&cell).copied().unwrap_or(0);
        if used != members {
            report.orphans.push(Orphan {
                kind: "capacity_count",
                id: cell.clone(),
                reason: format!("used is {used} but {members} live tenant(s) are placed on it"),
            });
        }
        if dedicated && members == 0 {
            report.orphans.push(Orphan {
                kind: "dedicated_cell",
                id: cell,
                reason: "no live tenant is placed on this dedicated cell".into(),
            });
        }
    }
    for residency in Residency::ALL {
        let region = residency.aws_region();
        let tables = services
            .tables
            .list(region, keys::DEDICATED_TABLE_PREFIX)
            .await?;
        for table in tables {
            *report.artifacts.entry("tenant_table").or_default() += 1;
            let owner = table.trim_start_matches(keys::DEDICATED_TABLE_PREFIX);
            if !live(owner) {
                report.orphans.push(Orphan {
                    kind: "tenant_table",
                    id: format!("{region}/{table}"),
                    reason: owner_reason(owner, states.get(owner)),
                });
            }
        }
    }
    Ok(report)
}

fn owner_reason(owner: &str, state: Option<&TenantState>) -> String {
    match state {
        None => format!("owner tenant {owner:?} does not exist"),
        Some(state) => format!("owner tenant {owner} is {}", state.as_str()),
    }
}

async fn scan_table(services: &Services) -> anyhow::Result<Vec<Item>> {
    let client = services.store.client();
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let output = client
            .scan()
            .table_name(services.store.table_name())
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await?;
        items.extend(output.items.unwrap_or_default());
        start = output.last_evaluated_key;
        if start.is_none() {
            return Ok(items);
        }
    }
}
