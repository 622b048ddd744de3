//! The DynamoDB item store. Maps the port's few operations onto GetItem, BatchGetItem, Query,
//! TransactWriteItems (or the single-item call when a transaction holds one write) and BatchWriteItem.
//! No SDK type leaves this module.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, DeleteRequest, KeysAndAttributes, Put, PutRequest,
    TransactWriteItem, Update, WriteRequest,
};

use crate::ports::store::{
    BATCH_GET_CHUNK, BATCH_WRITE_CHUNK, BatchWrite, Change, Cond, Item, ItemStore, Page, Query,
    StoreError, StoreResult, Table, Value, Write, validate_transaction,
};

const PK: &str = "pk";
const SK: &str = "sk";
/// Attempts for work DynamoDB asks us to repeat (unprocessed batch items, transaction conflicts).
const MAX_ATTEMPTS: u32 = 8;

#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    data_table: String,
    log_table: String,
    keys_table: String,
}

impl DynamoStore {
    pub fn new(client: Client, data_table: String, log_table: String, keys_table: String) -> Self {
        DynamoStore {
            client,
            data_table,
            log_table,
            keys_table,
        }
    }

    fn table(&self, t: Table) -> &str {
        match t {
            Table::Data => &self.data_table,
            Table::Log => &self.log_table,
            Table::Keys => &self.keys_table,
        }
    }
}

/// Exponential backoff with jitter: 20 ms, 40 ms, … capped at 1 s.
pub(crate) async fn backoff(attempt: u32) {
    let base = 20u64.saturating_mul(1 << attempt.min(6)).min(1000);
    let jitter = u64::from(crate::util::random_u32()) % (base / 2 + 1);
    tokio::time::sleep(Duration::from_millis(base / 2 + jitter)).await;
}

fn to_av(v: &Value) -> AttributeValue {
    match v {
        Value::S(s) => AttributeValue::S(s.clone()),
        Value::N(n) => AttributeValue::N(n.to_string()),
        Value::B(b) => AttributeValue::B(b.clone().into()),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Ss(set) => AttributeValue::Ss(set.iter().cloned().collect()),
    }
}

fn from_av(av: AttributeValue) -> StoreResult<Value> {
    Ok(match av {
        AttributeValue::S(s) => Value::S(s),
        AttributeValue::N(n) => Value::N(n.parse().map_err(|_| StoreError::Backend {
            message: format!("number {n} out of range"),
            source: None,
        })?),
        AttributeValue::B(b) => Value::B(b.into_inner()),
        AttributeValue::Bool(b) => Value::Bool(b),
        AttributeValue::Ss(s) => Value::Ss(s.into_iter().collect()),
        other => {
            return Err(StoreError::Backend {
                message: format!("unexpected attribute type {other:?}"),
                source: None,
            });
        }
    })
}

fn key_map(pk: &str, sk: &str) -> HashMap<String, AttributeValue> {
    HashMap::from([
        (PK.to_owned(), AttributeValue::S(pk.to_owned())),
        (SK.to_owned(), AttributeValue::S(sk.to_owned())),
    ])
}

fn item_map(item: &Item) -> HashMap<String, AttributeValue> {
    let mut m = key_map(&item.pk, &item.sk);
    for (k, v) in &item.attrs {
        m.insert(k.clone(), to_av(v));
    }
    m
}

fn from_map(mut m: HashMap<String, AttributeValue>) -> StoreResult<Item> {
    let take = |m: &mut HashMap<String, AttributeValue>, k: &str| match m.remove(k) {
        Some(AttributeValue::S(s)) => Ok(s),
        _ => Err(StoreError::Backend {
            message: format!("item without string {k}"),
            source: None,
        }),
    };
    let pk = take(&mut m, PK)?;
    let sk = take(&mut m, SK)?;
    let mut item = Item::new(pk, sk);
    for (k, v) in m {
        item.attrs.insert(k, from_av(v)?);
    }
    Ok(item)
}

/// Builds expression strings with `#nN` / `:vN` placeholders.
#[derive(Default)]
struct Expr {
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    fn name(&mut self, n: &str) -> String {
        if let Some((p, _)) = self.names.iter().find(|(_, v)| v.as_str() == n) {
            return p.clone();
        }
        let p = format!("#n{}", self.names.len());
        self.names.insert(p.clone(), n.to_owned());
        p
    }
    fn value(&mut self, v: AttributeValue) -> String {
        let p = format!(":v{}", self.values.len());
        self.values.insert(p.clone(), v);
        p
    }
    fn cond(&mut self, c: &Cond) -> String {
        match c {
            Cond::Exists => format!("attribute_exists({})", self.name(PK)),
            Cond::NotExists => format!("attribute_not_exists({})", self.name(PK)),
            Cond::Eq(a, v) => format!("{} = {}", self.name(a), self.value(to_av(v))),
            Cond::LtAttr(a, b) => format!("{} < {}", self.name(a), self.name(b)),
            Cond::Lt(a, n) => format!(
                "{} < {}",
                self.name(a),
                self.value(AttributeValue::N(n.to_string()))
            ),
            Cond::Gt(a, n) => format!(
                "{} > {}",
                self.name(a),
                self.value(AttributeValue::N(n.to_string()))
            ),
            Cond::Ge(a, n) => format!(
                "{} >= {}",
                self.name(a),
                self.value(AttributeValue::N(n.to_string()))
            ),
            Cond::And(all) => {
                let parts: Vec<String> =
                    all.iter().map(|c| format!("({})", self.cond(c))).collect();
                parts.join(" AND ")
            }
            Cond::Not(c) => format!("NOT ({})", self.cond(c)),
        }
    }
    fn update(&mut self, changes: &[Change]) -> String {
        let (mut set, mut remove, mut add, mut delete) = (vec![], vec![], vec![], vec![]);
        for c in changes {
            match c {
                Change::Set(a, v) => {
                    set.push(format!("{} = {}", self.name(a), self.value(to_av(v))))
                }
                Change::Remove(a) => remove.push(self.name(a)),
                Change::Add(a, n) => add.push(format!(
                    "{} {}",
                    self.name(a),
                    self.value(AttributeValue::N(n.to_string()))
                )),
                Change::SetInsert(a, vs) if !vs.is_empty() => add.push(format!(
                    "{} {}",
                    self.name(a),
                    self.value(AttributeValue::Ss(vs.clone()))
                )),
                Change::SetDelete(a, vs) if !vs.is_empty() => delete.push(format!(
                    "{} {}",
                    self.name(a),
                    self.value(AttributeValue::Ss(vs.clone()))
                )),
                Change::SetInsert(..) | Change::SetDelete(..) => {}
            }
        }
        let mut parts = vec![];
        for (kw, list) in [
            ("SET", set),
            ("REMOVE", remove),
            ("ADD", add),
            ("DELETE", delete),
        ] {
            if !list.is_empty() {
                parts.push(format!("{kw} {}", list.join(", ")));
            }
        }
        parts.join(" ")
    }
    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }
    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StoreError {
    StoreError::backend("building a DynamoDB request", e)
}

fn sdk_err<E>(op: &str, e: SdkError<E>) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
{
    let text = aws_sdk_dynamodb::error::DisplayErrorContext(&e).to_string();
    if e.as_service_error().is_some()
        && (text.contains("Throughput")
            || text.contains("Throttl")
            || text.contains("RequestLimitExceeded"))
    {
        return StoreError::Throttled;
    }
    if super::is_transient(&e) {
        return StoreError::Unavailable {
            message: format!("DynamoDB {op}: {text}"),
            source: None,
        };
    }
    StoreError::Backend {
        message: format!("DynamoDB {op}: {text}"),
        source: None,
    }
}

/// A single conditional write's failure: a failed condition is the caller's answer (as in a transaction of
/// one, index 0); anything else is the SDK's error, mapped as every other request's.
fn single_write_err<E>(op: &str, e: SdkError<E>, condition_failed: fn(&E) -> bool) -> StoreError
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + Send + Sync + 'static,
{
    if e.as_service_error().is_some_and(condition_failed) {
        StoreError::ConditionFailed { index: 0 }
    } else {
        sdk_err(op, e)
    }
}

impl DynamoStore {
    fn transact_item(&self, w: &Write) -> StoreResult<TransactWriteItem> {
        let mut e = Expr::default();
        Ok(match w {
            Write::Put { table, item, cond } => {
                let c = cond.as_ref().map(|c| e.cond(c));
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(self.table(*table))
                            .set_item(Some(item_map(item)))
                            .set_condition_expression(c)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .build()
                            .map_err(build_err)?,
                    )
                    .build()
            }
            Write::Delete {
                table,
                pk,
                sk,
                cond,
            } => {
                let c = cond.as_ref().map(|c| e.cond(c));
                TransactWriteItem::builder()
                    .delete(
                        Delete::builder()
                            .table_name(self.table(*table))
                            .set_key(Some(key_map(pk, sk)))
                            .set_condition_expression(c)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .build()
                            .map_err(build_err)?,
                    )
                    .build()
            }
            Write::Update {
                table,
                pk,
                sk,
                changes,
                cond,
            } => {
                let u = e.update(changes);
                let c = cond.as_ref().map(|c| e.cond(c));
                TransactWriteItem::builder()
                    .update(
                        Update::builder()
                            .table_name(self.table(*table))
                            .set_key(Some(key_map(pk, sk)))
                            .update_expression(u)
                            .set_condition_expression(c)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .build()
                            .map_err(build_err)?,
                    )
                    .build()
            }
            Write::Check {
                table,
                pk,
                sk,
                cond,
            } => {
                let c = e.cond(cond);
                TransactWriteItem::builder()
                    .condition_check(
                        ConditionCheck::builder()
                            .table_name(self.table(*table))
                            .set_key(Some(key_map(pk, sk)))
                            .condition_expression(c)
                            .set_expression_attribute_names(e.names())
                            .set_expression_attribute_values(e.values())
                            .build()
                            .map_err(build_err)?,
                    )
                    .build()
            }
        })
    }
}

/// What a cancelled transaction tells us.
enum Cancelled {
    Condition(usize),
    Conflict,
    Throttled,
    Other,
}

fn cancellation(e: &SdkError<TransactWriteItemsError>) -> Option<Cancelled> {
    let TransactWriteItemsError::TransactionCanceledException(tc) = e.as_service_error()? else {
        return match e.as_service_error()? {
            TransactWriteItemsError::TransactionInProgressException(_) => Some(Cancelled::Conflict),
            _ => None,
        };
    };
    let reasons = tc.cancellation_reasons();
    if let Some(i) = reasons
        .iter()
        .position(|r| r.code() == Some("ConditionalCheckFailed"))
    {
        return Some(Cancelled::Condition(i));
    }
    if reasons
        .iter()
        .any(|r| r.code() == Some("TransactionConflict"))
    {
        return Some(Cancelled::Conflict);
    }
    if reasons.iter().any(|r| {
        matches!(
            r.code(),
            Some("ThrottlingError" | "ProvisionedThroughputExceeded")
        )
    }) {
        return Some(Cancelled::Throttled);
    }
    // Moto names no reason for some failures; the message still says which kind.
    let msg = tc.message().unwrap_or_default();
    if msg.contains("ConditionalCheckFailed") {
        return Some(Cancelled::Condition(0));
    }
    Some(Cancelled::Other)
}

#[async_trait]
impl ItemStore for DynamoStore {
    async fn get(&self, table: Table, pk: &str, sk: &str) -> StoreResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(self.table(table))
            .set_key(Some(key_map(pk, sk)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_err("GetItem", e))?;
        out.item.map(from_map).transpose()
    }

    async fn batch_get(&self, table: Table, keys: &[(String, String)]) -> StoreResult<Vec<Item>> {
        let name = self.table(table).to_owned();
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BATCH_GET_CHUNK) {
            let mut pending: Vec<HashMap<String, AttributeValue>> =
                chunk.iter().map(|(pk, sk)| key_map(pk, sk)).collect();
            let mut attempt = 0;
            while !pending.is_empty() {
                let ka = KeysAndAttributes::builder()
                    .set_keys(Some(std::mem::take(&mut pending)))
                    .consistent_read(true)
                    .build()
                    .map_err(build_err)?;
                let resp = self
                    .client
                    .batch_get_item()
                    .request_items(name.clone(), ka)
                    .send()
                    .await
                    .map_err(|e| sdk_err("BatchGetItem", e))?;
                if let Some(mut r) = resp.responses {
                    for m in r.remove(&name).unwrap_or_default() {
                        out.push(from_map(m)?);
                    }
                }
                if let Some(mut un) = resp.unprocessed_keys
                    && let Some(ka) = un.remove(&name)
                {
                    pending = ka.keys;
                }
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt >= MAX_ATTEMPTS {
                        return Err(StoreError::Throttled);
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(out)
    }

    async fn query(&self, q: &Query) -> StoreResult<Page> {
        let limit = q.limit.max(1);
        let mut e = Expr::default();
        let pk_name = e.name(PK);
        let pk_val = e.value(AttributeValue::S(q.pk.clone()));
        let mut kce = format!("{pk_name} = {pk_val}");
        if !q.sk_prefix.is_empty() {
            let sk_name = e.name(SK);
            let pre = e.value(AttributeValue::S(q.sk_prefix.clone()));
            kce.push_str(&format!(" AND begins_with({sk_name}, {pre})"));
        }
        let mut items = Vec::with_capacity(limit + 1);
        let mut start = q.after.as_ref().map(|a| key_map(&q.pk, a));
        // One more than asked for tells whether another page follows, without an empty last page.
        loop {
            let resp = self
                .client
                .query()
                .table_name(self.table(q.table))
                .key_condition_expression(&kce)
                .set_expression_attribute_names(e.names())
                .set_expression_attribute_values(e.values())
                .set_exclusive_start_key(start.take())
                .scan_index_forward(q.forward)
                .consistent_read(true)
                .limit(i32::try_from(limit + 1 - items.len()).unwrap_or(i32::MAX))
                .send()
                .await
                .map_err(|e| sdk_err("Query", e))?;
            for m in resp.items.unwrap_or_default() {
                items.push(from_map(m)?);
            }
            match resp.last_evaluated_key {
                Some(k) if items.len() <= limit => start = Some(k),
                _ => break,
            }
        }
        let next = if items.len() > limit {
            items.truncate(limit);
            items.last().map(|i| i.sk.clone())
        } else {
            None
        };
        Ok(Page { items, next })
    }

    async fn transact(&self, writes: Vec<Write>) -> StoreResult<()> {
        validate_transaction(&writes)?;
        if let [single] = writes.as_slice() {
            return self.single_write(single).await;
        }
        let items = writes
            .iter()
            .map(|w| self.transact_item(w))
            .collect::<StoreResult<Vec<_>>>()?;
        let mut attempt = 0;
        loop {
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let Err(e) = res else { return Ok(()) };
            match cancellation(&e) {
                Some(Cancelled::Condition(index)) => {
                    return Err(StoreError::ConditionFailed { index });
                }
                // A cancelled transaction wrote nothing, so running it again is safe.
                Some(Cancelled::Conflict) | Some(Cancelled::Throttled)
                    if attempt + 1 < MAX_ATTEMPTS =>
                {
                    attempt += 1;
                    tracing::debug!(
                        attempt,
                        "transaction cancelled by a conflict or throttling; retrying"
                    );
                    backoff(attempt).await;
                }
                Some(Cancelled::Conflict) => return Err(StoreError::Conflict),
                Some(Cancelled::Throttled) => return Err(StoreError::Throttled),
                Some(Cancelled::Other) | None => return Err(sdk_err("TransactWriteItems", e)),
            }
        }
    }

    async fn batch_write(&self, table: Table, writes: Vec<BatchWrite>) -> StoreResult<()> {
        let name = self.table(table).to_owned();
        for chunk in writes.chunks(BATCH_WRITE_CHUNK) {
            let mut pending: Vec<WriteRequest> = chunk
                .iter()
                .map(|w| match w {
                    BatchWrite::Put(item) => Ok(WriteRequest::builder()
                        .put_request(
                            PutRequest::builder()
                                .set_item(Some(item_map(item)))
                                .build()
                                .map_err(build_err)?,
                        )
                        .build()),
                    BatchWrite::Delete { pk, sk } => Ok(WriteRequest::builder()
                        .delete_request(
                            DeleteRequest::builder()
                                .set_key(Some(key_map(pk, sk)))
                                .build()
                                .map_err(build_err)?,
                        )
                        .build()),
                })
                .collect::<StoreResult<_>>()?;
            let mut attempt = 0;
            while !pending.is_empty() {
                let resp = self
                    .client
                    .batch_write_item()
                    .request_items(name.clone(), std::mem::take(&mut pending))
                    .send()
                    .await
                    .map_err(|e| sdk_err("BatchWriteItem", e))?;
                if let Some(mut un) = resp.unprocessed_items {
                    pending = un.remove(&name).unwrap_or_default();
                }
                if !pending.is_empty() {
                    attempt += 1;
                    if attempt >= MAX_ATTEMPTS {
                        tracing::warn!(
                            left = pending.len(),
                            "DynamoDB kept returning unprocessed items"
                        );
                        return Err(StoreError::Throttled);
                    }
                    backoff(attempt).await;
                }
            }
        }
        Ok(())
    }
}

impl DynamoStore {
    async fn single_write(&self, w: &Write) -> StoreResult<()> {
        let mut e = Expr::default();
        match w {
            Write::Put { table, item, cond } => {
                let c = cond.as_ref().map(|c| e.cond(c));
                self.client
                    .put_item()
                    .table_name(self.table(*table))
                    .set_item(Some(item_map(item)))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|err| {
                        single_write_err(
                            "PutItem",
                            err,
                            PutItemError::is_conditional_check_failed_exception,
                        )
                    })
            }
            Write::Delete {
                table,
                pk,
                sk,
                cond,
            } => {
                let c = cond.as_ref().map(|c| e.cond(c));
                self.client
                    .delete_item()
                    .table_name(self.table(*table))
                    .set_key(Some(key_map(pk, sk)))
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|err| {
                        single_write_err(
                            "DeleteItem",
                            err,
                            DeleteItemError::is_conditional_check_failed_exception,
                        )
                    })
            }
            Write::Update {
                table,
                pk,
                sk,
                changes,
                cond,
            } => {
                let u = e.update(changes);
                let c = cond.as_ref().map(|c| e.cond(c));
                self.client
                    .update_item()
                    .table_name(self.table(*table))
                    .set_key(Some(key_map(pk, sk)))
                    .update_expression(u)
                    .set_condition_expression(c)
                    .set_expression_attribute_names(e.names())
                    .set_expression_attribute_values(e.values())
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|err| {
                        single_write_err(
                            "UpdateItem",
                            err,
                            UpdateItemError::is_conditional_check_failed_exception,
                        )
                    })
            }
            Write::Check {
                table,
                pk,
                sk,
                cond,
            } => {
                // A lone condition check: read and evaluate (no write happens, so no race to lose).
                let item = self.get(*table, pk, sk).await?;
                if crate::ports::store::eval_cond(cond, item.as_ref()) {
                    Ok(())
                } else {
                    Err(StoreError::ConditionFailed { index: 0 })
                }
            }
        }
    }
}

/// What moto never produces (unprocessed batch items, transaction conflicts, persistent throttling),
/// replayed through the real client with `aws-smithy-mocks`.
#[cfg(test)]
mod faults {
    use aws_sdk_dynamodb::config::{Credentials, Region};
    use aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemOutput;
    use aws_sdk_dynamodb::operation::transact_write_items::{
        TransactWriteItemsError, TransactWriteItemsOutput,
    };
    use aws_sdk_dynamodb::types::CancellationReason;
    use aws_sdk_dynamodb::types::error::TransactionCanceledException;
    use aws_smithy_mocks::{
        MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock,
    };

    use super::*;

    fn store(rules: &[&Rule]) -> DynamoStore {
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
        for r in rules {
            interceptor = interceptor.with_rule(r);
        }
        let conf = aws_sdk_dynamodb::Config::builder()
            .behavior_version_latest()
            .region(Region::new("ap-northeast-1"))
            .credentials_provider(Credentials::new("k", "s", None, None, "test"))
            .http_client(create_mock_http_client())
            .interceptor(interceptor)
            .build();
        DynamoStore::new(
            Client::from_conf(conf),
            "data".into(),
            "log".into(),
            "keys".into(),
        )
    }

    fn unprocessed(n: usize) -> BatchWriteItemOutput {
        let reqs = (0..n)
            .map(|i| {
                WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(key_map("P", &format!("S{i}"))))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        BatchWriteItemOutput::builder()
            .unprocessed_items("data", reqs)
            .build()
    }

    fn cancelled(code: &str) -> TransactWriteItemsError {
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .message("Transaction cancelled")
                .cancellation_reasons(CancellationReason::builder().code("None").build())
                .cancellation_reasons(CancellationReason::builder().code(code).build())
                .build(),
        )
    }

    fn two_writes() -> Vec<Write> {
        vec![
            Write::put_new(Table::Data, Item::new("P", "A")),
            Write::put_new(Table::Data, Item::new("P", "B")),
        ]
    }

    fn deletes(n: usize) -> Vec<BatchWrite> {
        (0..n)
            .map(|i| BatchWrite::Delete {
                pk: "P".into(),
                sk: format!("S{i}"),
            })
            .collect()
    }

    #[tokio::test]
    async fn unprocessed_batch_items_are_resent_until_written() {
        let rule = mock!(Client::batch_write_item)
            .sequence()
            .output(|| unprocessed(3))
            .output(|| unprocessed(1))
            .output(|| BatchWriteItemOutput::builder().build())
            .build();
        let s = store(&[&rule]);
        s.batch_write(Table::Data, deletes(5)).await.unwrap();
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn batch_items_never_processed_are_reported_not_dropped() {
        let rule = mock!(Client::batch_write_item)
            .sequence()
            .output(|| unprocessed(2))
            .repeatedly()
            .build();
        let s = store(&[&rule]);
        assert!(matches!(
            s.batch_write(Table::Data, deletes(2)).await,
            Err(StoreError::Throttled)
        ));
        assert_eq!(rule.num_calls(), MAX_ATTEMPTS as usize);
    }

    #[tokio::test]
    async fn a_transaction_conflict_is_retried() {
        let rule = mock!(Client::transact_write_items)
            .sequence()
            .error(|| cancelled("TransactionConflict"))
            .times(2)
            .output(|| TransactWriteItemsOutput::builder().build())
            .build();
        let s = store(&[&rule]);
        s.transact(two_writes()).await.unwrap();
        assert_eq!(rule.num_calls(), 3);
    }

    #[tokio::test]
    async fn a_lasting_conflict_is_a_clear_error() {
        let rule = mock!(Client::transact_write_items)
            .sequence()
            .error(|| cancelled("TransactionConflict"))
            .repeatedly()
            .build();
        let s = store(&[&rule]);
        assert!(matches!(
            s.transact(two_writes()).await,
            Err(StoreError::Conflict)
        ));
        assert_eq!(rule.num_calls(), MAX_ATTEMPTS as usize);
    }

    #[tokio::test]
    async fn a_failed_condition_names_its_write_and_is_not_retried() {
        let rule = mock!(Client::transact_write_items)
            .sequence()
            .error(|| cancelled("ConditionalCheckFailed"))
            .repeatedly()
            .build();
        let s = store(&[&rule]);
        assert!(matches!(
            s.transact(two_writes()).await,
            Err(StoreError::ConditionFailed { index: 1 })
        ));
        assert_eq!(rule.num_calls(), 1);
    }
}
