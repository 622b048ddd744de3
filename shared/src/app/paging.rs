//! Paging, one way for every list: a [`PageRequest`] checked once at the boundary, an opaque [`Cursor`] that
//! the app gives out and checks when it comes back, and one page shape, [`Page`] (`{items, next_cursor}`).
//!
//! A cursor is the base64url of the last sort key a page returned. Clients must treat it as opaque; the
//! list that reads it checks that it is a key of that very list (its prefix, or the shape of its keys), so
//! a cursor of another list, of another group, or a made-up key is a 400 naming `cursor`, never a query
//! that starts somewhere else in the tenant's partition.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Serialize, Serializer};

use crate::app::AppError;

/// Items per page when the request does not say.
pub const DEFAULT_LIMIT: usize = 50;
/// The most items one page holds.
pub const MAX_LIMIT: usize = 200;

/// Where a page starts: after the last item of an earlier page of the same list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    /// The position after the item with sort key `sk`.
    pub(crate) fn after_key(sk: &str) -> Cursor {
        Cursor(URL_SAFE_NO_PAD.encode(sk.as_bytes()))
    }

    /// A cursor as a client sent it, unchecked: the list that reads it checks it ([`Self::key_in`]).
    pub fn from_client(raw: &str) -> Cursor {
        Cursor(raw.to_owned())
    }

    /// The text given out in `next_cursor`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sort key this cursor stands for, if it is one of the list's own keys (`belongs` says which
    /// keys are); else 400 `invalid_request` on `cursor`.
    pub(crate) fn key_in(&self, belongs: impl Fn(&str) -> bool) -> Result<String, AppError> {
        let bad = || AppError::invalid("cursor", "cursor is not one this list gave out");
        let bytes = URL_SAFE_NO_PAD.decode(&self.0).map_err(|_| bad())?;
        let sk = String::from_utf8(bytes).map_err(|_| bad())?;
        if sk.is_empty() || sk.contains('\0') || !belongs(&sk) {
            return Err(bad());
        }
        Ok(sk)
    }
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// How many items, and after which cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub after: Option<Cursor>,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest::first(DEFAULT_LIMIT)
    }
}

impl PageRequest {
    /// The first page of `limit` items (at least one; the app's own walks may ask for more than
    /// [`MAX_LIMIT`]).
    pub fn first(limit: usize) -> PageRequest {
        PageRequest {
            limit: limit.max(1),
            after: None,
        }
    }

    /// The same request starting after a cursor a client sent (none when absent or empty).
    pub fn after(self, raw: Option<&str>) -> PageRequest {
        PageRequest {
            after: raw.filter(|c| !c.is_empty()).map(Cursor::from_client),
            ..self
        }
    }

    /// The `limit` and `cursor` query parameters: `limit` a whole number from 1 to [`MAX_LIMIT`]
    /// (default [`DEFAULT_LIMIT`]); an empty cursor is no cursor.
    pub fn parse(limit: Option<&str>, cursor: Option<&str>) -> Result<PageRequest, AppError> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(s) => s
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    AppError::invalid(
                        "limit",
                        format!("limit must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        Ok(PageRequest::first(limit).after(cursor))
    }

    /// The sort key to start after, checked against the list's keys (see [`Cursor::key_in`]).
    pub(crate) fn after_key(
        &self,
        belongs: impl Fn(&str) -> bool,
    ) -> Result<Option<String>, AppError> {
        self.after.as_ref().map(|c| c.key_in(belongs)).transpose()
    }
}

/// Runs a list with `req`, and once more from the first page if `req`'s cursor is refused: a page of the
/// console, whose links a user can edit, starts its list over rather than show an error.
pub async fn or_first_page<T, Fut>(
    req: PageRequest,
    list: impl Fn(PageRequest) -> Fut,
) -> Result<Page<T>, AppError>
where
    Fut: Future<Output = Result<Page<T>, AppError>>,
{
    let limit = req.limit;
    match list(req).await {
        Err(AppError::Invalid {
            field: Some("cursor"),
            ..
        }) => list(PageRequest::first(limit)).await,
        r => r,
    }
}

/// One page of a list: its items and, when more follow, the cursor of the next page.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// A page whose next one starts after the sort key `next` (the store's last evaluated key).
    pub(crate) fn after_key(items: Vec<T>, next: Option<String>) -> Page<T> {
        Page {
            items,
            next: next.as_deref().map(Cursor::after_key),
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next: self.next,
        }
    }
}

/// `{"items": […], "next_cursor": "…" | null}`, the body of every list of the API.
impl<T: Serialize> Serialize for Page<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Page", 2)?;
        st.serialize_field("items", &self.items)?;
        st.serialize_field("next_cursor", &self.next)?;
        st.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_goes_out_and_comes_back_to_the_same_key() {
        let c = Cursor::after_key("USER#01abc");
        let back = Cursor::from_client(c.as_str());
        assert_eq!(
            back.key_in(|k| k.starts_with("USER#")).unwrap(),
            "USER#01abc"
        );
    }

    #[test]
    fn a_cursor_of_another_list_or_made_up_is_refused() {
        let group = Cursor::after_key("GROUP#01abc");
        for c in [
            group,
            Cursor::from_client("not base64!"),
            Cursor::from_client(&URL_SAFE_NO_PAD.encode([0xff, 0xfe])),
            Cursor::after_key("USER#a\0b"),
        ] {
            let e = c.key_in(|k| k.starts_with("USER#")).unwrap_err();
            assert!(
                matches!(
                    e,
                    AppError::Invalid {
                        field: Some("cursor"),
                        ..
                    }
                ),
                "{e:?}"
            );
        }
    }

    #[test]
    fn limits_are_checked_once() {
        assert_eq!(PageRequest::parse(None, None).unwrap().limit, DEFAULT_LIMIT);
        assert_eq!(
            PageRequest::parse(Some("200"), Some("")).unwrap().after,
            None
        );
        for bad in ["0", "201", "-1", "1.5", "ten", ""] {
            assert!(PageRequest::parse(Some(bad), None).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_console_starts_again_on_a_mangled_cursor() {
        let list = |r: PageRequest| async move {
            let after = r.after_key(|k| k.starts_with("USER#"))?;
            Ok(Page::after_key(vec![after], None))
        };
        let mangled = PageRequest::parse(None, Some("garbage")).unwrap();
        assert_eq!(or_first_page(mangled, list).await.unwrap().items, [None]);
        let good = Cursor::after_key("USER#x");
        let r = PageRequest::parse(None, Some(good.as_str())).unwrap();
        assert_eq!(
            or_first_page(r, list).await.unwrap().items,
            [Some("USER#x".to_owned())]
        );
    }

    #[test]
    fn a_page_serialises_as_items_and_next_cursor() {
        let p = Page::after_key(vec![1, 2], Some("USER#2".to_owned()));
        let v = serde_json::to_value(&p).unwrap();
        assert_eq!(v["items"], serde_json::json!([1, 2]));
        assert_eq!(v["next_cursor"], Cursor::after_key("USER#2").as_str());
        let last: Page<i32> = Page::after_key(vec![], None);
        assert!(serde_json::to_value(&last).unwrap()["next_cursor"].is_null());
    }
}
