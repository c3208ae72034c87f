//! The single-table adapter: item mapping, conditional writes and transactions.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValue, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use onboarding_domain::audit::{Actor, AuditRecord};
use onboarding_domain::ids::TenantId;
use onboarding_domain::lifecycle::TenantState;
use onboarding_domain::provisioning::{Step, StepStatus};
use onboarding_domain::signup::{CompanyName, EmailAddress, Plan, Residency, Subdomain, UseCase};
use onboarding_domain::usage::Usage;
use time::OffsetDateTime;

use super::items::{b, format_time, n, s, ts, Item, Reader};
use super::store_error;
use crate::error::StoreError;
use crate::keys;
use crate::records::{
    CommercialState, DataStoreKind, DataStoreRecord, SignupRecord, StepRecord, TenantRecord,
    VerificationRecord,
};

/// DynamoDB client and table name, built once per cold start.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// A change to one tenant that is audited in the same transaction: the audit entry, the tenant
/// update guarded by the audit sequence it was read at, and any other writes that belong to it.
pub struct TenantChange {
    pub actor: Actor,
    pub action: String,
    pub reason: String,
    pub new_state: Option<TenantState>,
    /// Attributes set on the tenant item besides state and audit head.
    pub set: Vec<(&'static str, AttributeValue)>,
    /// Attributes removed from the tenant item.
    pub remove: Vec<&'static str>,
    /// Other writes of the same transaction, after the tenant update and the audit put.
    pub extra: Vec<TransactWriteItem>,
}

impl TenantChange {
    pub fn new(actor: Actor, action: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            actor,
            action: action.into(),
            reason: reason.into(),
            new_state: None,
            set: Vec::new(),
            remove: Vec::new(),
            extra: Vec::new(),
        }
    }

    pub fn to_state(mut self, state: TenantState) -> Self {
        self.new_state = Some(state);
        self
    }

    pub fn set(mut self, attribute: &'static str, value: AttributeValue) -> Self {
        self.set.push((attribute, value));
        self
    }

    pub fn remove(mut self, attribute: &'static str) -> Self {
        self.remove.push(attribute);
        self
    }

    pub fn with(mut self, write: TransactWriteItem) -> Self {
        self.extra.push(write);
        self
    }
}

/// Index of the first `extra` write in a change's transaction (after tenant update and audit put).
pub const FIRST_EXTRA_WRITE: usize = 2;

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn from_sdk_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    pub fn table_name(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    // ---- building blocks -------------------------------------------------------------------

    pub fn key(pk: impl Into<String>, sk: impl Into<String>) -> Item {
        Item::from([(keys::PK.to_owned(), s(pk)), (keys::SK.to_owned(), s(sk))])
    }

    /// Builds a put that fails when the item already exists.
    pub fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(PK)")
            .build()
            .map_err(|e| build_error("Put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Builds a put that replaces any existing item.
    pub fn put_any(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .build()
            .map_err(|e| build_error("Put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Builds a delete that succeeds only while the item names `tenant_id` as its owner.
    pub fn delete_owned(
        &self,
        pk: String,
        sk: &str,
        tenant_id: &str,
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .condition_expression("attribute_not_exists(PK) OR tenant_id = :owner")
            .expression_attribute_values(":owner", s(tenant_id))
            .build()
            .map_err(|e| build_error("Delete", e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    pub fn delete_any(&self, pk: String, sk: &str) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .build()
            .map_err(|e| build_error("Delete", e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    pub fn update(
        &self,
        pk: String,
        sk: &str,
        expression: &str,
        condition: Option<&str>,
        values: Vec<(&str, AttributeValue)>,
        names: Vec<(&str, &str)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut builder = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .update_expression(expression);
        if let Some(condition) = condition {
            builder = builder.condition_expression(condition);
        }
        for (name, value) in values {
            builder = builder.expression_attribute_values(name, value);
        }
        for (placeholder, name) in names {
            builder = builder.expression_attribute_names(placeholder, name);
        }
        let update = builder.build().map_err(|e| build_error("Update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub fn condition_check(
        &self,
        pk: String,
        sk: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut builder = ConditionCheck::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .condition_expression(condition);
        for (name, value) in values {
            builder = builder.expression_attribute_values(name, value);
        }
        let check = builder
            .build()
            .map_err(|e| build_error("ConditionCheck", e))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    pub async fn transact(&self, writes: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => {
                if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
                    error.as_service_error()
                {
                    let reasons = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| {
                            reason
                                .code()
                                .filter(|code| *code != "None")
                                .map(str::to_owned)
                        })
                        .collect();
                    return Err(StoreError::TransactionCancelled { reasons });
                }
                Err(store_error("TransactWriteItems", error))
            }
        }
    }

    pub async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| store_error("GetItem", e))?;
        Ok(output.item)
    }

    /// Reads every item of a partition whose sort key starts with `prefix`, following pages.
    pub async fn query_prefix(&self, pk: String, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| store_error("Query", e))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    /// Reads GSI1 items of partition `gsi1pk` with a sort key before `before`, oldest first.
    pub async fn query_index_before(
        &self,
        gsi1pk: &str,
        before: &str,
        limit: i32,
    ) -> Result<Vec<Item>, StoreError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(keys::GSI1)
            .key_condition_expression("GSI1PK = :pk AND GSI1SK < :before")
            .expression_attribute_values(":pk", s(gsi1pk))
            .expression_attribute_values(":before", s(before))
            .limit(limit)
            .send()
            .await
            .map_err(|e| store_error("Query", e))?;
        Ok(output.items.unwrap_or_default())
    }

    pub async fn delete_item(&self, pk: String, sk: &str) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pk, sk)))
            .send()
            .await
            .map_err(|e| store_error("DeleteItem", e))?;
        Ok(())
    }

    pub async fn put_item(&self, item: Item, only_if_new: bool) -> Result<bool, StoreError> {
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        if only_if_new {
            request = request.condition_expression("attribute_not_exists(PK)");
        }
        match request.send().await {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(store_error("PutItem", error)),
        }
    }

    // ---- rate limiting ---------------------------------------------------------------------

    /// Counts one request in the fixed window of `window_seconds` and reports whether it fits the
    /// limit. Returns the seconds until the window ends when it does not.
    pub async fn count_request(
        &self,
        scope: &str,
        key: &str,
        limit: u32,
        window_seconds: i64,
        now: OffsetDateTime,
    ) -> Result<Result<(), u64>, StoreError> {
        let epoch = now.unix_timestamp();
        let window = epoch / window_seconds;
        let window_end = (window + 1) * window_seconds;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(keys::rate(scope, key, window), "RATE")))
            .update_expression("ADD #count :one SET #ttl = :ttl")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#ttl", keys::TTL)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":ttl", n(window_end + window_seconds))
            .return_values(ReturnValue::None)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Ok(())),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(Err(u64::try_from(window_end - epoch).unwrap_or(1).max(1)))
            }
            Err(error) => Err(store_error("UpdateItem", error)),
        }
    }

    // ---- tenants and their audit chain -------------------------------------------------------

    pub async fn get_tenant(&self, tenant_id: &str) -> Result<Option<TenantRecord>, StoreError> {
        self.get(keys::tenant(tenant_id), keys::TENANT_SK)
            .await?
            .map(|item| tenant_from_item(&item))
            .transpose()
    }

    /// Builds the writes of `change` against the tenant as read in `tenant`: the guarded tenant
    /// update, the next audit entry, then the change's own writes. Returns them with the entry.
    pub fn change_writes(
        &self,
        tenant: &TenantRecord,
        change: TenantChange,
        now: OffsetDateTime,
    ) -> Result<(Vec<TransactWriteItem>, AuditRecord), StoreError> {
        let record = next_audit(tenant, &change, now)?;
        let mut set_clauses = vec![
            "audit_seq = :seq".to_owned(),
            "audit_head = :head".to_owned(),
            "updated_at = :now".to_owned(),
        ];
        let mut values: Vec<(String, AttributeValue)> = vec![
            (":seq".into(), n(record.seq)),
            (":head".into(), s(&record.hash)),
            (":now".into(), ts(now)),
            (":expected_seq".into(), n(tenant.audit_seq)),
        ];
        let mut condition = "audit_seq = :expected_seq".to_owned();
        let state = change.new_state.unwrap_or(tenant.state);
        if let Some(new_state) = change.new_state {
            tenant
                .state
                .transition_to(new_state)
                .map_err(|error| StoreError::Malformed {
                    item: keys::tenant(&tenant.tenant_id),
                    reason: error.to_string(),
                })?;
            set_clauses.push("#state = :state".into());
            set_clauses.push("state_reason = :reason".into());
            values.push((":state".into(), s(new_state.as_str())));
            values.push((":reason".into(), s(&change.reason)));
            condition.push_str(" AND #state = :from");
            values.push((":from".into(), s(tenant.state.as_str())));
        }
        // The tenant stays listed under its state in GSI1, sorted by the time of its last change.
        set_clauses.push("GSI1PK = :gsi1pk".into());
        set_clauses.push("GSI1SK = :gsi1sk".into());
        values.push((":gsi1pk".into(), s(keys::state_index(state))));
        values.push((
            ":gsi1sk".into(),
            s(format!("{}#{}", format_time(now), tenant.tenant_id)),
        ));
        // Attribute names go through placeholders, because some (plan, usage) are reserved words.
        let mut names: Vec<(String, &'static str)> = Vec::new();
        for (index, (attribute, value)) in change.set.into_iter().enumerate() {
            set_clauses.push(format!("#set{index} = :set{index}"));
            names.push((format!("#set{index}"), attribute));
            values.push((format!(":set{index}"), value));
        }
        let mut expression = format!("SET {}", set_clauses.join(", "));
        if !change.remove.is_empty() {
            let removed: Vec<String> = change
                .remove
                .iter()
                .enumerate()
                .map(|(index, attribute)| {
                    names.push((format!("#remove{index}"), attribute));
                    format!("#remove{index}")
                })
                .collect();
            expression.push_str(" REMOVE ");
            expression.push_str(&removed.join(", "));
        }
        let mut builder = Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key(
                keys::tenant(&tenant.tenant_id),
                keys::TENANT_SK,
            )))
            .update_expression(expression)
            .condition_expression(condition);
        if change.new_state.is_some() {
            builder = builder.expression_attribute_names("#state", "state");
        }
        for (placeholder, name) in names {
            builder = builder.expression_attribute_names(placeholder, name);
        }
        for (name, value) in values {
            builder = builder.expression_attribute_values(name, value);
        }
        let update = builder.build().map_err(|e| build_error("Update", e))?;
        let mut writes = vec![
            TransactWriteItem::builder().update(update).build(),
            self.put_new(audit_item(&record))?,
        ];
        writes.extend(change.extra);
        Ok((writes, record))
    }

    /// Commits `change` against the tenant as read in `tenant`.
    pub async fn commit_change(
        &self,
        tenant: &TenantRecord,
        change: TenantChange,
        now: OffsetDateTime,
    ) -> Result<AuditRecord, StoreError> {
        let (writes, record) = self.change_writes(tenant, change, now)?;
        self.transact(writes).await?;
        Ok(record)
    }

    pub async fn list_audit(&self, tenant_id: &str) -> Result<Vec<AuditRecord>, StoreError> {
        self.query_prefix(keys::tenant(tenant_id), keys::AUDIT_PREFIX)
            .await?
            .iter()
            .map(audit_from_item)
            .collect()
    }

    // ---- signups and verification -------------------------------------------------------------

    pub async fn get_signup(&self, signup_id: &str) -> Result<Option<SignupRecord>, StoreError> {
        self.get(keys::signup(signup_id), keys::SIGNUP_SK)
            .await?
            .map(|item| signup_from_item(&item))
            .transpose()
    }

    pub async fn get_verification(
        &self,
        token_hash: &str,
    ) -> Result<Option<VerificationRecord>, StoreError> {
        self.get(keys::verification(token_hash), "VERIFY")
            .await?
            .map(|item| verification_from_item(&item))
            .transpose()
    }

    pub async fn claim_owner(&self, pk: String) -> Result<Option<String>, StoreError> {
        Ok(self
            .get(pk, keys::CLAIM_SK)
            .await?
            .and_then(|item| Reader::new(&item).opt_s("tenant_id").map(str::to_owned)))
    }

    // ---- provisioning steps ------------------------------------------------------------------

    pub async fn list_steps(
        &self,
        tenant_id: &str,
        attempt: u32,
    ) -> Result<Vec<StepRecord>, StoreError> {
        self.query_prefix(keys::tenant(tenant_id), &keys::step_prefix(attempt))
            .await?
            .iter()
            .map(step_from_item)
            .collect()
    }

    pub async fn get_step(
        &self,
        tenant_id: &str,
        attempt: u32,
        step: Step,
    ) -> Result<Option<StepRecord>, StoreError> {
        self.get(keys::tenant(tenant_id), &keys::step(attempt, step.index()))
            .await?
            .map(|item| step_from_item(&item))
            .transpose()
    }

    pub async fn get_data_store(
        &self,
        tenant_id: &str,
    ) -> Result<Option<DataStoreRecord>, StoreError> {
        self.get(keys::tenant(tenant_id), keys::DATASTORE_SK)
            .await?
            .map(|item| data_store_from_item(&item))
            .transpose()
    }
}

fn build_error(what: &'static str, error: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::Failed {
        operation: what,
        source: Box::new(error),
    }
}

fn next_audit(
    tenant: &TenantRecord,
    change: &TenantChange,
    now: OffsetDateTime,
) -> Result<AuditRecord, StoreError> {
    let tenant_id = TenantId::parse(&tenant.tenant_id).map_err(|error| StoreError::Malformed {
        item: keys::tenant(&tenant.tenant_id),
        reason: error.to_string(),
    })?;
    let mut record = AuditRecord::next(
        None,
        tenant_id,
        now,
        change.actor.clone(),
        change.action.clone(),
        change.reason.clone(),
        Some(tenant.state),
        Some(change.new_state.unwrap_or(tenant.state)),
    );
    if tenant.audit_seq > 0 {
        record.seq = tenant.audit_seq + 1;
        record.prev_hash = tenant.audit_head.clone();
        record.hash = record.compute_hash();
    }
    Ok(record)
}

/// Builds the first audit entry of a new tenant, which starts its chain.
pub fn first_audit(
    tenant_id: &TenantId,
    actor: Actor,
    action: &str,
    reason: &str,
    state: TenantState,
    now: OffsetDateTime,
) -> AuditRecord {
    AuditRecord::next(
        None,
        tenant_id.clone(),
        now,
        actor,
        action.to_owned(),
        reason.to_owned(),
        None,
        Some(state),
    )
}

/// Builds the entry that follows `prev` in the same transaction, for one write that adds two
/// entries.
pub fn following_audit(
    prev: &AuditRecord,
    actor: Actor,
    action: &str,
    reason: &str,
    state_after: TenantState,
    now: OffsetDateTime,
) -> AuditRecord {
    AuditRecord::next(
        Some(prev),
        prev.tenant_id.clone(),
        now,
        actor,
        action.to_owned(),
        reason.to_owned(),
        prev.state_after,
        Some(state_after),
    )
}

// ---- item mapping --------------------------------------------------------------------------

pub fn tenant_item(tenant: &TenantRecord) -> Item {
    let mut item = DynamoStore::key(keys::tenant(&tenant.tenant_id), keys::TENANT_SK);
    item.insert(keys::GSI1PK.into(), s(keys::state_index(tenant.state)));
    item.insert(
        keys::GSI1SK.into(),
        s(format!(
            "{}#{}",
            format_time(tenant.updated_at),
            tenant.tenant_id
        )),
    );
    item.insert("tenant_id".into(), s(&tenant.tenant_id));
    if let Some(signup_id) = &tenant.signup_id {
        item.insert("signup_id".into(), s(signup_id));
    }
    item.insert("email".into(), s(tenant.email.as_str()));
    item.insert("company_name".into(), s(tenant.company_name.as_str()));
    item.insert("subdomain".into(), s(tenant.subdomain.as_str()));
    item.insert("residency".into(), s(tenant.residency.as_str()));
    item.insert("use_case".into(), s(tenant.use_case.as_str()));
    item.insert("plan".into(), s(tenant.plan.as_str()));
    item.insert("on_trial".into(), b(tenant.on_trial));
    if let Some(ends) = tenant.trial_ends_at {
        item.insert("trial_ends_at".into(), ts(ends));
    }
    item.insert("state".into(), s(tenant.state.as_str()));
    item.insert("state_reason".into(), s(&tenant.state_reason));
    item.insert("created_at".into(), ts(tenant.created_at));
    item.insert("updated_at".into(), ts(tenant.updated_at));
    item.insert("audit_seq".into(), n(tenant.audit_seq));
    item.insert("audit_head".into(), s(&tenant.audit_head));
    item.insert("attempt".into(), n(tenant.attempt));
    if let Some(arn) = &tenant.execution_arn {
        item.insert("execution_arn".into(), s(arn));
    }
    if let Some(url) = &tenant.workspace_url {
        item.insert("workspace_url".into(), s(url));
    }
    if let Some(cell) = &tenant.cell_id {
        item.insert("cell_id".into(), s(cell));
    }
    commercial_attributes(&tenant.commercial, &mut item);
    item
}

fn commercial_attributes(state: &CommercialState, item: &mut Item) {
    item.insert("time_zone".into(), s(&state.time_zone));
    item.insert("catalog_version".into(), n(state.catalog_version));
    item.insert(
        "usage".into(),
        s(serde_json::to_string(&state.usage).unwrap_or_default()),
    );
    item.insert("usage_version".into(), n(state.usage_version));
    let optional_strings = [
        ("stripe_customer_id", &state.stripe_customer_id),
        ("subscription_id", &state.subscription_id),
        ("subscription_status", &state.subscription_status),
    ];
    for (name, value) in optional_strings {
        if let Some(value) = value {
            item.insert(name.into(), s(value));
        }
    }
    let optional_times = [
        ("grace_ends_at", state.grace_ends_at),
        ("past_due_since", state.past_due_since),
        ("archived_at", state.archived_at),
    ];
    for (name, value) in optional_times {
        if let Some(value) = value {
            item.insert(name.into(), ts(value));
        }
    }
    if let Some(created) = state.billing_event_created {
        item.insert("billing_event_created".into(), n(created));
    }
    if let Some(downgrade) = &state.downgrade {
        item.insert(
            "downgrade".into(),
            s(serde_json::to_string(downgrade).unwrap_or_default()),
        );
    }
    if let Some(parent) = &state.parent_id {
        item.insert("parent_id".into(), s(parent));
    }
    if let Some(slug) = &state.customer_slug {
        item.insert("customer_slug".into(), s(slug));
    }
    if !state.licenses.is_empty() {
        item.insert(
            "licenses".into(),
            s(serde_json::to_string(&state.licenses).unwrap_or_default()),
        );
    }
    if !state.limit_notices.is_empty() {
        item.insert(
            "limit_notices".into(),
            AttributeValue::Ss(state.limit_notices.clone()),
        );
    }
}

fn commercial_from(r: &Reader<'_>) -> Result<CommercialState, StoreError> {
    let json = |attribute: &str| -> Result<Option<serde_json::Value>, StoreError> {
        r.opt_s(attribute)
            .map(|text| {
                serde_json::from_str(text).map_err(|e| r.malformed(format!("{attribute}: {e}")))
            })
            .transpose()
    };
    let usage = match json("usage")? {
        Some(value) => {
            serde_json::from_value(value).map_err(|e| r.malformed(format!("usage: {e}")))?
        }
        None => Usage::default(),
    };
    let downgrade = match json("downgrade")? {
        Some(value) => Some(
            serde_json::from_value(value).map_err(|e| r.malformed(format!("downgrade: {e}")))?,
        ),
        None => None,
    };
    Ok(CommercialState {
        time_zone: r.opt_s("time_zone").unwrap_or("UTC").to_owned(),
        catalog_version: r.opt_n("catalog_version")?.unwrap_or(1),
        grace_ends_at: r.opt_time("grace_ends_at")?,
        stripe_customer_id: r.opt_s("stripe_customer_id").map(str::to_owned),
        subscription_id: r.opt_s("subscription_id").map(str::to_owned),
        subscription_status: r.opt_s("subscription_status").map(str::to_owned),
        billing_event_created: r.opt_n("billing_event_created")?,
        past_due_since: r.opt_time("past_due_since")?,
        downgrade,
        usage,
        usage_version: r.opt_n("usage_version")?.unwrap_or(0),
        limit_notices: r.string_list("limit_notices"),
        archived_at: r.opt_time("archived_at")?,
        parent_id: r.opt_s("parent_id").map(str::to_owned),
        customer_slug: r.opt_s("customer_slug").map(str::to_owned),
        licenses: match json("licenses")? {
            Some(value) => {
                serde_json::from_value(value).map_err(|e| r.malformed(format!("licenses: {e}")))?
            }
            None => Default::default(),
        },
    })
}

pub fn tenant_from_item(item: &Item) -> Result<TenantRecord, StoreError> {
    let r = Reader::new(item);
    Ok(TenantRecord {
        tenant_id: r.s("tenant_id")?.to_owned(),
        signup_id: r.opt_s("signup_id").map(str::to_owned),
        email: r.parsed("email", EmailAddress::parse)?,
        company_name: r.parsed("company_name", CompanyName::parse)?,
        subdomain: r.parsed("subdomain", Subdomain::parse)?,
        residency: r.parsed("residency", Residency::parse)?,
        use_case: r.parsed("use_case", UseCase::parse)?,
        plan: r.parsed("plan", Plan::parse)?,
        on_trial: r.bool("on_trial"),
        trial_ends_at: r.opt_time("trial_ends_at")?,
        state: r.parsed("state", TenantState::parse)?,
        state_reason: r.opt_s("state_reason").unwrap_or_default().to_owned(),
        created_at: r.time("created_at")?,
        updated_at: r.time("updated_at")?,
        audit_seq: r.n("audit_seq")?,
        audit_head: r.s("audit_head")?.to_owned(),
        attempt: r.opt_n("attempt")?.unwrap_or(0),
        execution_arn: r.opt_s("execution_arn").map(str::to_owned),
        workspace_url: r.opt_s("workspace_url").map(str::to_owned),
        cell_id: r.opt_s("cell_id").map(str::to_owned),
        commercial: commercial_from(&r)?,
    })
}

pub fn audit_item(record: &AuditRecord) -> Item {
    let mut item = DynamoStore::key(
        keys::tenant(record.tenant_id.as_str()),
        keys::audit(record.seq),
    );
    item.insert("tenant_id".into(), s(record.tenant_id.as_str()));
    item.insert("seq".into(), n(record.seq));
    // The whole entry is kept as JSON too, so verification hashes exactly what was written.
    item.insert(
        "entry".into(),
        s(serde_json::to_string(record).unwrap_or_default()),
    );
    item.insert("action".into(), s(&record.action));
    item.insert("hash".into(), s(&record.hash));
    item
}

pub fn audit_from_item(item: &Item) -> Result<AuditRecord, StoreError> {
    let r = Reader::new(item);
    let entry = r.s("entry")?;
    serde_json::from_str(entry).map_err(|error| r.malformed(format!("entry: {error}")))
}

pub fn signup_item(signup: &SignupRecord) -> Item {
    let mut item = DynamoStore::key(keys::signup(&signup.signup_id), keys::SIGNUP_SK);
    item.insert("signup_id".into(), s(&signup.signup_id));
    item.insert("tenant_id".into(), s(&signup.tenant_id));
    item.insert("token_hash".into(), s(&signup.token_hash));
    item.insert("token_expires_at".into(), ts(signup.token_expires_at));
    item.insert("created_at".into(), ts(signup.created_at));
    if let Some(at) = signup.verified_at {
        item.insert("verified_at".into(), ts(at));
    }
    item
}

pub fn signup_from_item(item: &Item) -> Result<SignupRecord, StoreError> {
    let r = Reader::new(item);
    Ok(SignupRecord {
        signup_id: r.s("signup_id")?.to_owned(),
        tenant_id: r.s("tenant_id")?.to_owned(),
        token_hash: r.s("token_hash")?.to_owned(),
        token_expires_at: r.time("token_expires_at")?,
        verified_at: r.opt_time("verified_at")?,
        created_at: r.time("created_at")?,
    })
}

/// Verification items outlive their token by a week so a late click still learns "expired".
const VERIFICATION_RETENTION_SECONDS: i64 = 7 * 24 * 3600;

pub fn verification_item(record: &VerificationRecord) -> Item {
    let mut item = DynamoStore::key(keys::verification(&record.token_hash), "VERIFY");
    item.insert("token_hash".into(), s(&record.token_hash));
    item.insert("signup_id".into(), s(&record.signup_id));
    item.insert("tenant_id".into(), s(&record.tenant_id));
    item.insert("token_expires_at".into(), ts(record.expires_at));
    item.insert(
        keys::TTL.into(),
        n(record.expires_at.unix_timestamp() + VERIFICATION_RETENTION_SECONDS),
    );
    item
}

pub fn verification_from_item(item: &Item) -> Result<VerificationRecord, StoreError> {
    let r = Reader::new(item);
    Ok(VerificationRecord {
        token_hash: r.s("token_hash")?.to_owned(),
        signup_id: r.s("signup_id")?.to_owned(),
        tenant_id: r.s("tenant_id")?.to_owned(),
        expires_at: r.time("token_expires_at")?,
        used_at: r.opt_time("used_at")?,
    })
}

pub fn claim_item(pk: String, tenant_id: &str, now: OffsetDateTime) -> Item {
    let mut item = DynamoStore::key(pk, keys::CLAIM_SK);
    item.insert("tenant_id".into(), s(tenant_id));
    item.insert("claimed_at".into(), ts(now));
    item
}

pub fn step_item(tenant_id: &str, record: &StepRecord) -> Item {
    let mut item = DynamoStore::key(
        keys::tenant(tenant_id),
        keys::step(record.attempt, record.step.index()),
    );
    item.insert("tenant_id".into(), s(tenant_id));
    item.insert("attempt".into(), n(record.attempt));
    item.insert("step".into(), s(record.step.as_str()));
    item.insert("status".into(), s(step_status_str(record.status)));
    item.insert("started_at".into(), ts(record.started_at));
    if let Some(at) = record.finished_at {
        item.insert("finished_at".into(), ts(at));
    }
    if let Some(error) = &record.error {
        item.insert("error".into(), s(error));
    }
    item
}

pub fn step_from_item(item: &Item) -> Result<StepRecord, StoreError> {
    let r = Reader::new(item);
    Ok(StepRecord {
        attempt: r.n("attempt")?,
        step: r.parsed("step", Step::parse)?,
        status: r.parsed("status", parse_step_status)?,
        started_at: r.time("started_at")?,
        finished_at: r.opt_time("finished_at")?,
        error: r.opt_s("error").map(str::to_owned),
    })
}

pub fn step_status_str(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Running => "running",
        StepStatus::Succeeded => "succeeded",
        StepStatus::Failed => "failed",
        StepStatus::Undone => "undone",
        StepStatus::UndoFailed => "undo_failed",
    }
}

fn parse_step_status(value: &str) -> Result<StepStatus, String> {
    Ok(match value {
        "running" => StepStatus::Running,
        "succeeded" => StepStatus::Succeeded,
        "failed" => StepStatus::Failed,
        "undone" => StepStatus::Undone,
        "undo_failed" => StepStatus::UndoFailed,
        other => return Err(format!("unknown step status {other}")),
    })
}

pub fn data_store_item(record: &DataStoreRecord) -> Item {
    let mut item = DynamoStore::key(keys::tenant(&record.tenant_id), keys::DATASTORE_SK);
    item.insert("tenant_id".into(), s(&record.tenant_id));
    match &record.kind {
        DataStoreKind::Shared => {
            item.insert("kind".into(), s("shared"));
        }
        DataStoreKind::Dedicated { table_name } => {
            item.insert("kind".into(), s("dedicated"));
            item.insert("table_name".into(), s(table_name));
        }
    }
    item.insert("aws_region".into(), s(&record.aws_region));
    item.insert("encrypted_data_key".into(), s(&record.encrypted_data_key));
    item.insert("ready".into(), b(record.ready));
    item
}

pub fn data_store_from_item(item: &Item) -> Result<DataStoreRecord, StoreError> {
    let r = Reader::new(item);
    let kind = match r.s("kind")? {
        "shared" => DataStoreKind::Shared,
        "dedicated" => DataStoreKind::Dedicated {
            table_name: r.s("table_name")?.to_owned(),
        },
        other => return Err(r.malformed(format!("unknown data store kind {other}"))),
    };
    Ok(DataStoreRecord {
        tenant_id: r.s("tenant_id")?.to_owned(),
        kind,
        aws_region: r.s("aws_region")?.to_owned(),
        encrypted_data_key: r.s("encrypted_data_key")?.to_owned(),
        ready: r.bool("ready"),
    })
}
