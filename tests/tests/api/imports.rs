//! CSV registration of users and groups, on both backends.

use kanri_tests::{App, StatusCode, both_backends, r_str};
use serde_json::{Value, json};

fn lines(r: &Value, key: &str) -> Vec<(i64, String)> {
    r[key]
        .as_array()
        .expect(key)
        .iter()
        .map(|f| (f["line"].as_i64().unwrap_or(-1), r_str(&f["code"])))
        .collect()
}

both_backends!(
    a_user_csv_creates_valid_rows_and_reports_the_others_by_line,
    |app: App| async move {
        let t = app.onboard(8).await;
        app.post(
            "/v1/groups",
            Some(&t.admin_token),
            json!({"name": "総務部"}),
        )
        .await;
        let csv = "\u{feff}name,email,login_id,role,groups\n\
        山田 花子,hanako@example.jp,,担当者,総務部;新設部\n\
        ,nobody@example.jp,,,\n\
        鈴木 一郎,ichiro@example.jp,ichiro,,\n\
        重複,HANAKO@example.jp,,,\n\
        =HYPERLINK(\"http://evil\"),formula@example.jp,,,\n\
        ログインのみ,,loginonly,,\n\
        役割不明,role@example.jp,,社長,\n\
        \n\
        \"改行\nあり\",multi@example.jp,,member,新設部\n";
        let r = app
            .post_bytes(
                "/v1/users/import?delivery=invite_link",
                &t.admin_token,
                "text/csv",
                csv.as_bytes().to_vec(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["created"], 3, "{:?}", r.body);
        assert_eq!(
            lines(&r.body, "failed"),
            [
                (3, "invalid_request".into()),
                (5, "email_taken".into()),
                (7, "delivery_requires_email".into()),
                (8, "invalid_request".into()),
                // A quoted cell may span lines; a name may not hold a line break. Counted after the blank line 9.
                (10, "invalid_request".into()),
            ]
        );
        let users: Vec<(i64, String)> = r.body["users"]
            .as_array()
            .expect("users")
            .iter()
            .map(|u| (u["line"].as_i64().unwrap_or(-1), r_str(&u["login"])))
            .collect();
        assert_eq!(users[0], (2, "hanako@example.jp".to_string()));
        assert_eq!(users.iter().map(|u| u.0).collect::<Vec<_>>(), [2, 4, 6]);
        assert!(r.body["users"][0].get("initial_password").is_none());
        // Invitations went out, groups were created when missing, roles by name, formula text kept as text.
        assert_eq!(app.mails_to("ichiro@example.jp").await.len(), 1);
        let groups = app.get("/v1/groups", &t.admin_token).await.body;
        let by_name: Vec<(String, i64)> = groups["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|g| (r_str(&g["name"]), g["member_count"].as_i64().unwrap_or(-1)))
            .collect();
        assert!(
            by_name.contains(&("総務部".to_string(), 1))
                && by_name.contains(&("新設部".to_string(), 1)),
            "{by_name:?}"
        );
        let hanako = app
            .get(
                &format!("/v1/users/{}", r_str(&r.body["users"][0]["id"])),
                &t.admin_token,
            )
            .await;
        assert_eq!(
            (
                hanako.body["role_id"].as_str(),
                hanako.body["group_ids"].as_array().map(Vec::len)
            ),
            (Some("staff"), Some(2))
        );
        let formula = app
            .get(
                &format!("/v1/users/{}", r_str(&r.body["users"][2]["id"])),
                &t.admin_token,
            )
            .await;
        assert_eq!(formula.body["name"], "=HYPERLINK(\"http://evil\")");
        assert_eq!(
            app.get("/v1/tenant", &t.admin_token).await.body["seats_used"],
            4
        );
    }
);

both_backends!(
    a_shift_jis_file_from_excel_imports_with_generated_passwords_and_seats_run_out_row_by_row,
    |app: App| async move {
        let t = app.onboard(4).await;
        let text = "name,email,login_id,role,groups\r\n高橋 健,,takahashi,,\r\n渡辺 恵,,watanabe,受講者,\r\n伊藤 誠,,ito,,\r\n中村 愛,,nakamura,,\r\n";
        let (sjis, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
        assert!(!unmappable);
        let r = app
            .post_bytes(
                "/v1/users/import?delivery=generated",
                &t.admin_token,
                "text/csv; charset=Shift_JIS",
                sjis.into_owned(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(r.body["created"], 3);
        assert_eq!(
            lines(&r.body, "failed"),
            [(5, "seat_limit_reached".to_string())]
        );
        let first = &r.body["users"][0];
        let pw = r_str(&first["initial_password"]);
        assert!(pw.len() >= 16);
        let s = app.login(&t.slug, "takahashi", &pw).await;
        let me = app.get("/v1/me", &s).await;
        assert_eq!(
            (
                me.body["name"].as_str(),
                me.body["must_change_password"].as_bool()
            ),
            (Some("高橋 健"), Some(true))
        );
        let second = app
            .login(
                &t.slug,
                "watanabe",
                &r_str(&r.body["users"][1]["initial_password"]),
            )
            .await;
        assert_eq!(app.get("/v1/me", &second).await.body["role_id"], "learner");
    }
);

both_backends!(
    bad_files_are_refused_whole_and_change_nothing,
    |app: App| async move {
        let t = app.onboard(5).await;
        let wrong_type = app
            .post_bytes(
                "/v1/users/import",
                &t.admin_token,
                "application/json",
                b"{}".to_vec(),
            )
            .await;
        assert_eq!(
            (wrong_type.status, wrong_type.code()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        );
        let big = vec![b'a'; (1 << 20) + 1];
        assert_eq!(
            app.post_bytes("/v1/users/import", &t.admin_token, "text/csv", big)
                .await
                .status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let header = app
            .post_bytes(
                "/v1/users/import",
                &t.admin_token,
                "text/csv",
                b"nom,courriel\nx,y\n".to_vec(),
            )
            .await;
        assert_eq!(
            (header.status, header.code()),
            (StatusCode::BAD_REQUEST, "invalid_request")
        );
        let binary = app
            .post_bytes(
                "/v1/users/import",
                &t.admin_token,
                "text/csv",
                vec![0x82, 0xff, 0xfe, 0x00],
            )
            .await;
        assert_eq!(binary.status, StatusCode::BAD_REQUEST);
        let bad_delivery = app
            .post_bytes(
                "/v1/users/import?delivery=fax",
                &t.admin_token,
                "text/csv",
                b"name\nx\n".to_vec(),
            )
            .await;
        assert_eq!(bad_delivery.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            app.get("/v1/tenant", &t.admin_token).await.body["seats_used"],
            1
        );
    }
);

both_backends!(
    a_group_csv_creates_groups_and_adds_members_by_email_or_login_id,
    |app: App| async move {
        let t = app.onboard(10).await;
        for (name, login) in [("A", "a.user"), ("B", "b.user")] {
            app.post(
                "/v1/users",
                Some(&t.admin_token),
                json!({"name": name, "login_id": login, "delivery": "generated"}),
            )
            .await;
        }
        app.post(
            "/v1/users",
            Some(&t.admin_token),
            json!({"name": "C", "email": "c@example.jp", "delivery": "invite_link"}),
        )
        .await;
        app.post(
            "/v1/groups",
            Some(&t.admin_token),
            json!({"name": "既存グループ"}),
        )
        .await;
        let csv = "group_name,members\n新グループ,a.user;C@example.jp\n既存グループ,b.user;ghost@example.jp\n,a.user\n空のグループ,\n";
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode(csv);
        let r = app
            .post_bytes(
                "/v1/groups/import",
                &t.admin_token,
                "text/csv",
                sjis.into_owned(),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        assert_eq!(
            (r.body["created"].as_i64(), r.body["updated"].as_i64()),
            (Some(2), Some(1))
        );
        assert_eq!(
            lines(&r.body, "failed"),
            [
                (3, "invalid_request".to_string()),
                (4, "invalid_request".to_string())
            ]
        );
        assert!(r_str(&r.body["failed"][0]["message"]).contains("ghost@example.jp"));
        let groups = app.get("/v1/groups", &t.admin_token).await.body;
        let counts: Vec<(String, i64)> = groups["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|g| (r_str(&g["name"]), g["member_count"].as_i64().unwrap_or(-1)))
            .collect();
        assert!(
            counts.contains(&("新グループ".into(), 2))
                && counts.contains(&("既存グループ".into(), 1))
                && counts.contains(&("空のグループ".into(), 0)),
            "{counts:?}"
        );
    }
);
