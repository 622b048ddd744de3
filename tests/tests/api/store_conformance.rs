//! One conformance suite for every item-store adapter: the embedded store and DynamoDB (moto).

use std::sync::Arc;

use kanri::adapters::aws::DynamoStore;
use kanri::adapters::embedded::EmbeddedStore;
use kanri::ports::store::MAX_TRANSACTION_ITEMS;
use kanri::ports::{
    BatchWrite, Change, Cond, Item, ItemStore, Query, StoreError, Table, Value, Write,
};
use kanri_tests::{aws, unique};

async fn embedded() -> Arc<dyn ItemStore> {
    let dir = std::env::temp_dir().join(unique("kanri-conf-"));
    std::fs::create_dir_all(&dir).expect("dir");
    Arc::new(EmbeddedStore::open(&dir.join("store.redb")).expect("open"))
}

async fn dynamodb() -> Arc<dyn ItemStore> {
    let a = aws();
    let sdk = kanri::adapters::aws::sdk_config(Some(&a.endpoint)).await;
    Arc::new(DynamoStore::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        a.table.clone(),
        a.log_table.clone(),
        a.keys_table.clone(),
    ))
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod on_embedded { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::embedded().await).await } )* }
        mod on_dynamodb { $( #[tokio::test(flavor = "multi_thread", worker_threads = 4)] async fn $name() { super::$name(super::dynamodb().await).await } )* }
    };
}

conformance!(
    every_value_kind_round_trips,
    a_conditional_put_fails_when_the_item_exists,
    a_transaction_fails_as_a_whole_and_names_the_failed_write,
    a_bounded_counter_stops_at_its_limit,
    updates_set_remove_add_and_edit_string_sets,
    queries_page_through_a_prefix_in_order_both_ways,
    batches_write_and_read_more_than_one_chunk,
    concurrent_conditional_writes_let_exactly_one_win,
    malformed_transactions_are_refused,
    transactions_given_together_stop_at_the_first_that_fails,
);

fn pk() -> String {
    unique("P#")
}

async fn every_value_kind_round_trips(s: Arc<dyn ItemStore>) {
    let pk = pk();
    let item = Item::new(&pk, "A")
        .with("s", Value::S("山田".into()))
        .with("n", Value::N(-7))
        .with("b", Value::B(vec![0, 255, 1]))
        .with("t", Value::Bool(true))
        .with("ss", Value::Ss(["x".to_string(), "y".to_string()].into()));
    s.transact(vec![Write::put(Table::Data, item.clone())])
        .await
        .expect("put");
    assert_eq!(s.get(Table::Data, &pk, "A").await.expect("get"), Some(item));
    assert_eq!(s.get(Table::Data, &pk, "missing").await.expect("get"), None);
    assert_eq!(
        s.get(Table::Log, &pk, "A").await.expect("get"),
        None,
        "tables are separate"
    );
}

async fn a_conditional_put_fails_when_the_item_exists(s: Arc<dyn ItemStore>) {
    let pk = pk();
    let put = || Write::put_new(Table::Data, Item::new(&pk, "G").with("v", Value::N(1)));
    s.transact(vec![put()]).await.expect("first put");
    assert!(matches!(
        s.transact(vec![put()]).await,
        Err(StoreError::ConditionFailed { index: 0 })
    ));
    let del = |v| Write::Delete {
        table: Table::Data,
        pk: pk.clone(),
        sk: "G".into(),
        cond: Some(Cond::Eq("v", Value::N(v))),
    };
    assert!(matches!(
        s.transact(vec![del(2)]).await,
        Err(StoreError::ConditionFailed { index: 0 })
    ));
    s.transact(vec![del(1)]).await.expect("conditional delete");
    assert_eq!(s.get(Table::Data, &pk, "G").await.expect("get"), None);
}

async fn a_transaction_fails_as_a_whole_and_names_the_failed_write(s: Arc<dyn ItemStore>) {
    let pk = pk();
    s.transact(vec![Write::put(Table::Data, Item::new(&pk, "EXISTS"))])
        .await
        .expect("seed");
    let r = s
        .transact(vec![
            Write::put_new(Table::Data, Item::new(&pk, "NEW1")),
            Write::put_new(Table::Log, Item::new(&pk, "NEW2")),
            Write::put_new(Table::Data, Item::new(&pk, "EXISTS")),
        ])
        .await;
    assert!(
        matches!(r, Err(StoreError::ConditionFailed { index: 2 })),
        "{r:?}"
    );
    assert_eq!(
        s.get(Table::Data, &pk, "NEW1").await.expect("get"),
        None,
        "nothing of it was written"
    );
    assert_eq!(s.get(Table::Log, &pk, "NEW2").await.expect("get"), None);
    let check = Write::Check {
        table: Table::Data,
        pk: pk.clone(),
        sk: "NOPE".into(),
        cond: Cond::Exists,
    };
    let r = s
        .transact(vec![Write::put(Table::Data, Item::new(&pk, "NEW3")), check])
        .await;
    assert!(matches!(r, Err(StoreError::ConditionFailed { index: 1 })));
    assert_eq!(s.get(Table::Data, &pk, "NEW3").await.expect("get"), None);
}

async fn a_bounded_counter_stops_at_its_limit(s: Arc<dyn ItemStore>) {
    let pk = pk();
    s.transact(vec![Write::put(
        Table::Data,
        Item::new(&pk, "C")
            .with("used", Value::N(0))
            .with("limit", Value::N(2)),
    )])
    .await
    .expect("seed");
    let take = || Write::Update {
        table: Table::Data,
        pk: pk.clone(),
        sk: "C".into(),
        changes: vec![Change::Add("used", 1)],
        cond: Some(Cond::LtAttr("used", "limit")),
    };
    s.transact(vec![take()]).await.expect("1");
    s.transact(vec![take(), Write::put(Table::Data, Item::new(&pk, "X"))])
        .await
        .expect("2");
    assert!(matches!(
        s.transact(vec![take()]).await,
        Err(StoreError::ConditionFailed { index: 0 })
    ));
    let c = s
        .get(Table::Data, &pk, "C")
        .await
        .expect("get")
        .expect("item");
    assert_eq!(c.n("used"), Some(2));
    let lt = Write::Update {
        table: Table::Data,
        pk: pk.clone(),
        sk: "C".into(),
        changes: vec![Change::Add("used", -1)],
        cond: Some(Cond::And(vec![
            Cond::Ge("used", 1),
            Cond::Lt("used", 3),
            Cond::Gt("limit", 1),
        ])),
    };
    s.transact(vec![lt]).await.expect("decrement");
    assert_eq!(
        s.get(Table::Data, &pk, "C")
            .await
            .expect("get")
            .expect("item")
            .n("used"),
        Some(1)
    );
}

async fn updates_set_remove_add_and_edit_string_sets(s: Arc<dyn ItemStore>) {
    let pk = pk();
    let upd = |changes| Write::Update {
        table: Table::Data,
        pk: pk.clone(),
        sk: "U".into(),
        changes,
        cond: None,
    };
    s.transact(vec![upd(vec![
        Change::Set("a", Value::S("x".into())),
        Change::Add("n", 5),
        Change::SetInsert("g", vec!["1".into(), "2".into()]),
    ])])
    .await
    .expect("create by update");
    s.transact(vec![upd(vec![
        Change::Remove("a"),
        Change::Add("n", -2),
        Change::SetDelete("g", vec!["1".into()]),
    ])])
    .await
    .expect("update");
    let u = s
        .get(Table::Data, &pk, "U")
        .await
        .expect("get")
        .expect("item");
    assert_eq!(
        (u.s("a"), u.n("n"), u.ss("g")),
        (None, Some(3), vec!["2".to_string()])
    );
    s.transact(vec![upd(vec![Change::SetDelete("g", vec!["2".into()])])])
        .await
        .expect("empty the set");
    assert!(
        !s.get(Table::Data, &pk, "U")
            .await
            .expect("get")
            .expect("item")
            .attrs
            .contains_key("g"),
        "an emptied set disappears"
    );
    let guarded = Write::Update {
        table: Table::Data,
        pk: pk.clone(),
        sk: "MISSING".into(),
        changes: vec![Change::Add("n", 1)],
        cond: Some(Cond::Exists),
    };
    assert!(matches!(
        s.transact(vec![guarded]).await,
        Err(StoreError::ConditionFailed { index: 0 })
    ));
}

async fn queries_page_through_a_prefix_in_order_both_ways(s: Arc<dyn ItemStore>) {
    let pk = pk();
    let items: Vec<BatchWrite> = (0..10)
        .map(|i| BatchWrite::Put(Item::new(&pk, format!("A#{i:02}"))))
        .chain([
            BatchWrite::Put(Item::new(&pk, "B#00")),
            BatchWrite::Put(Item::new(&pk, "0")),
        ])
        .collect();
    s.batch_write(Table::Data, items).await.expect("batch");
    let mut seen = vec![];
    let mut after = None;
    let mut pages = 0;
    loop {
        let page = s
            .query(&Query::prefix(Table::Data, &pk, "A#").after(after).limit(3))
            .await
            .expect("query");
        pages += 1;
        seen.extend(page.items.iter().map(|i| i.sk.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..10).map(|i| format!("A#{i:02}")).collect::<Vec<_>>()
    );
    assert_eq!(pages, 4, "3 + 3 + 3 + 1, and no empty last page");
    let back = s
        .query(&Query::prefix(Table::Data, &pk, "A#").limit(4).backward())
        .await
        .expect("query");
    assert_eq!(
        back.items.iter().map(|i| i.sk.as_str()).collect::<Vec<_>>(),
        ["A#09", "A#08", "A#07", "A#06"]
    );
    let back2 = s
        .query(
            &Query::prefix(Table::Data, &pk, "A#")
                .limit(4)
                .backward()
                .after(back.next),
        )
        .await
        .expect("query");
    assert_eq!(back2.items.first().map(|i| i.sk.as_str()), Some("A#05"));
    let exact = s
        .query(&Query::prefix(Table::Data, &pk, "A#").limit(10))
        .await
        .expect("query");
    assert_eq!((exact.items.len(), exact.next), (10, None));
}

async fn batches_write_and_read_more_than_one_chunk(s: Arc<dyn ItemStore>) {
    let pk = pk();
    let puts = (0..130)
        .map(|i| BatchWrite::Put(Item::new(&pk, format!("I#{i:03}")).with("i", Value::N(i))))
        .collect();
    s.batch_write(Table::Data, puts).await.expect("130 puts");
    let keys: Vec<(String, String)> = (0..130)
        .map(|i| (pk.clone(), format!("I#{i:03}")))
        .chain([(pk.clone(), "none".to_string())])
        .collect();
    assert_eq!(
        s.batch_get(Table::Data, &keys)
            .await
            .expect("batch get")
            .len(),
        130
    );
    let dels = (0..100)
        .map(|i| BatchWrite::Delete {
            pk: pk.clone(),
            sk: format!("I#{i:03}"),
        })
        .collect();
    s.batch_write(Table::Data, dels).await.expect("100 deletes");
    let left = s
        .query(&Query::prefix(Table::Data, &pk, "I#").limit(200))
        .await
        .expect("query");
    assert_eq!(left.items.len(), 30);
}

async fn concurrent_conditional_writes_let_exactly_one_win(s: Arc<dyn ItemStore>) {
    let pk = pk();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = s.clone();
            let pk = pk.clone();
            tokio::spawn(async move {
                s.transact(vec![
                    Write::put_new(Table::Data, Item::new(&pk, "GUARD").with("by", Value::N(i))),
                    Write::put(Table::Data, Item::new(&pk, format!("ROW#{i:02}"))),
                ])
                .await
            })
        })
        .collect();
    let mut wins = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(()) => wins += 1,
            Err(StoreError::ConditionFailed { index: 0 }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(wins, 1);
    let rows = s
        .query(&Query::prefix(Table::Data, &pk, "ROW#"))
        .await
        .expect("query");
    assert_eq!(rows.items.len(), 1, "only the winner's other write exists");
}

async fn malformed_transactions_are_refused(s: Arc<dyn ItemStore>) {
    let pk = pk();
    let twice = vec![
        Write::put(Table::Data, Item::new(&pk, "X")),
        Write::delete(Table::Data, &pk, "X"),
    ];
    assert!(matches!(
        s.transact(twice).await,
        Err(StoreError::Invalid(_))
    ));
    let many = (0..=MAX_TRANSACTION_ITEMS)
        .map(|i| Write::put(Table::Data, Item::new(&pk, format!("{i}"))))
        .collect();
    assert!(matches!(
        s.transact(many).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(
        s.query(&Query::prefix(Table::Data, &pk, ""))
            .await
            .expect("query")
            .items
            .is_empty()
    );
}

/// `transact_all`: the transactions in order, each seeing those before it, up to the first that fails
/// (which writes nothing; those after it are not tried).
async fn transactions_given_together_stop_at_the_first_that_fails(s: Arc<dyn ItemStore>) {
    let pk = pk();
    let new = |n: i64| {
        Write::put_new(
            Table::Data,
            Item::new(&pk, format!("S{n}")).with("n", Value::N(n)),
        )
    };
    let bump = || Write::Update {
        table: Table::Data,
        pk: pk.clone(),
        sk: "C".into(),
        changes: vec![Change::Add("n", 1)],
        cond: Some(Cond::Not(Box::new(Cond::Ge("n", 2)))),
    };
    let (done, e) = s
        .transact_all(vec![
            vec![new(1), bump()],
            vec![new(2), bump()],
            vec![new(3), bump()],
            vec![new(4)],
        ])
        .await;
    assert_eq!(done, 2);
    assert!(
        matches!(e, Some(StoreError::ConditionFailed { index: 1 })),
        "{e:?}"
    );
    for (n, there) in [(1, true), (2, true), (3, false), (4, false)] {
        let got = s.get(Table::Data, &pk, &format!("S{n}")).await.unwrap();
        assert_eq!(got.is_some(), there, "S{n}");
    }
    let c = s.get(Table::Data, &pk, "C").await.unwrap().unwrap();
    assert_eq!(c.n("n"), Some(2));
    let (done, e) = s
        .transact_all(vec![vec![new(5)], vec![], vec![new(6)]])
        .await;
    assert_eq!(done, 1);
    assert!(matches!(e, Some(StoreError::Invalid(_))), "{e:?}");
    assert!(s.get(Table::Data, &pk, "S6").await.unwrap().is_none());
    let (done, e) = s.transact_all(vec![vec![new(7)], vec![new(8)]]).await;
    assert_eq!((done, e.is_none()), (2, true));
}
