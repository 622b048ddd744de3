//! The session check also reads the items the route's path names (`http::prefetch`), and the handler is
//! served from that read (`ports::prefetch`). Nothing of it outlives the request: a change made by one
//! request is seen by the next; a request's own write is seen by its later reads; the path's ids are read
//! in the caller's tenant only.

use kanri::app::layout;
use kanri::domain::ids::{TenantId, UserId};
use kanri::ports::prefetch::{Prefetched, within};
use kanri::ports::{Item, Table, Value, Write};
use kanri_tests::{App, StatusCode, both_backends, r_str};
use serde_json::json;

both_backends!(
    what_one_request_changes_is_read_by_the_next,
    |app: App| async move {
        let t = app.onboard(5).await;
        let other = app.onboard(5).await;
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "Before", "login_id": "prefetch1", "delivery": "generated", "role_id": "member"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let id = r_str(&r.body["user"]["id"]);
        let path = format!("/v1/users/{id}");
        let got = app.get(&path, &t.admin_token).await;
        assert_eq!(
            (got.status, got.body["name"].as_str()),
            (StatusCode::OK, Some("Before"))
        );
        // A rename, a role change, a disabling, each seen by the very next read of the user.
        let p = app
            .patch(&path, &t.admin_token, json!({"name": "After"}))
            .await;
        assert_eq!(p.status, StatusCode::OK, "{p:?}");
        assert_eq!(app.get(&path, &t.admin_token).await.body["name"], "After");
        let role = app
            .call(
                "PUT",
                &format!("{path}/role"),
                Some(&t.admin_token),
                Some(json!({"role_id": "staff"})),
            )
            .await;
        assert_eq!(role.status, StatusCode::OK, "{role:?}");
        assert_eq!(
            app.get(&path, &t.admin_token).await.body["role_id"],
            "staff"
        );
        let d = app
            .post(&format!("{path}/disable"), Some(&t.admin_token), json!({}))
            .await;
        assert!(d.status.is_success(), "{d:?}");
        assert_eq!(
            app.get(&path, &t.admin_token).await.body["status"],
            "disabled"
        );
        // The path naming the caller (the user item the session check reads anyway).
        let me = app
            .get(&format!("/v1/users/{}", t.admin_id), &t.admin_token)
            .await;
        assert_eq!(me.status, StatusCode::OK, "{me:?}");
        assert_eq!(me.body["id"], t.admin_id.as_str());
        // Another tenant's user is not read in this tenant: 404, as an id that names nothing.
        let theirs = app
            .get(&format!("/v1/users/{}", other.admin_id), &t.admin_token)
            .await;
        assert_eq!(
            (theirs.status, theirs.code()),
            (StatusCode::NOT_FOUND, "not_found")
        );
        // A deletion: the next read is a 404.
        let del = app.delete(&path, &t.admin_token).await;
        assert!(del.status.is_success(), "{del:?}");
        let gone = app.get(&path, &t.admin_token).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND, "{gone:?}");
        // The tenant item (read by the session check) as it is after a change.
        let seats = app.get("/v1/tenant", &t.admin_token).await;
        assert_eq!(seats.status, StatusCode::OK, "{seats:?}");
        let used = seats.body["seats_used"].clone();
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "Next", "login_id": "prefetch2", "delivery": "generated", "role_id": "member"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let after = app.get("/v1/tenant", &t.admin_token).await;
        assert_eq!(
            after.body["seats_used"].as_i64(),
            used.as_i64().map(|n| n + 1),
            "{after:?}"
        );
        // A group renamed, then read.
        let g = app
            .post(
                "/v1/groups",
                Some(&t.admin_token),
                json!({"name": "Group A"}),
            )
            .await;
        assert_eq!(g.status, StatusCode::CREATED, "{g:?}");
        let gpath = format!("/v1/groups/{}", r_str(&g.body["id"]));
        let rn = app
            .patch(&gpath, &t.admin_token, json!({"name": "Group B"}))
            .await;
        assert!(rn.status.is_success(), "{rn:?}");
        assert_eq!(
            app.get(&gpath, &t.admin_token).await.body["name"],
            "Group B"
        );
    }
);

both_backends!(
    a_read_after_the_requests_own_write_sees_the_write,
    |app: App| async move {
        let t = app.onboard(5).await;
        // The store of the services is the one every request uses; run as a request would, with what a
        // session check read of the tenant item.
        let store = app.svc.store.clone();
        let pk = layout::tenant_pk(&TenantId::from_stored(&t.id));
        let meta = store
            .get(Table::Data, &pk, layout::META)
            .await
            .expect("read")
            .expect("the tenant item");
        let user_sk = layout::user_sk(&UserId::from_stored(&t.admin_id));
        let mut reads = Prefetched::default();
        reads.insert(pk.clone(), layout::META.to_owned(), Some(meta.clone()));
        reads.insert(pk.clone(), "PREFETCH#probe".to_owned(), None);
        reads.insert(pk.clone(), user_sk.clone(), None);
        within(reads, async {
            // The request writes an item it was handed as absent: its read sees the write.
            let probe = Item::new(pk.clone(), "PREFETCH#probe").with("n", Value::N(1));
            store
                .transact(vec![Write::put(Table::Data, probe.clone())])
                .await
                .expect("write");
            let read = store
                .get(Table::Data, &pk, "PREFETCH#probe")
                .await
                .expect("read");
            assert_eq!(read, Some(probe));
            // Served once: the user handed as absent (never true in a request) is served so once, then
            // read from the store.
            assert!(
                store
                    .get(Table::Data, &pk, &user_sk)
                    .await
                    .expect("read")
                    .is_none()
            );
            assert!(
                store
                    .get(Table::Data, &pk, &user_sk)
                    .await
                    .expect("read")
                    .is_some()
            );
            // A batched write of the tenant item, then a read: the written item.
            let mut changed = meta.clone();
            changed
                .attrs
                .insert("prefetch_probe".into(), Value::S("written".into()));
            store
                .batch_write(
                    Table::Data,
                    vec![kanri::ports::BatchWrite::Put(changed.clone())],
                )
                .await
                .expect("write");
            let read = store
                .batch_get(Table::Data, &[(pk.clone(), layout::META.to_owned())])
                .await
                .expect("read");
            assert_eq!(read, vec![changed]);
        })
        .await;
        // Put things back as they were.
        store
            .transact(vec![
                Write::put(Table::Data, meta),
                Write::delete(Table::Data, pk.clone(), "PREFETCH#probe"),
            ])
            .await
            .expect("restore");
        assert_eq!(
            app.get("/v1/tenant", &t.admin_token).await.status,
            StatusCode::OK
        );
    }
);

both_backends!(
    a_delete_confirmation_reads_the_ids_of_its_query_in_the_callers_tenant,
    |app: App| async move {
        let t = app.onboard(5).await;
        let other = app.onboard(5).await;
        let r = app
            .post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": "Prefetched Person", "login_id": "prefetch3", "delivery": "generated"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        let id = r_str(&r.body["user"]["id"]);
        let browser = crate::pages::browser();
        let confirm = |ids: Vec<String>| {
            let browser = browser.clone();
            let query: Vec<String> = ids.iter().map(|i| format!("id={i}")).collect();
            let url = format!("{}/admin/users/delete?{}", app.base, query.join("&"));
            let cookie = format!("kanri_session={}", t.admin_token);
            async move {
                let r = browser
                    .get(url)
                    .header("cookie", cookie)
                    .send()
                    .await
                    .expect("page");
                (r.status(), r.text().await.expect("body"))
            }
        };
        let (status, page) = confirm(vec![id.clone(), other.admin_id.clone()]).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(page.contains("Prefetched Person"), "{page}");
        // Another tenant's admin is not among the users shown (not read in this tenant).
        let (status, _) = confirm(vec![other.admin_id.clone()]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        // Deleted: the next confirmation finds nobody.
        let del = app.delete(&format!("/v1/users/{id}"), &t.admin_token).await;
        assert!(del.status.is_success(), "{del:?}");
        let (status, _) = confirm(vec![id.clone()]).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
);
