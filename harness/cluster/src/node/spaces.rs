//! The spaces of a reference node: `GET /api/spaces` (paged; `name`,
//! `partialName`, `ids`, `skip`, `take`), `GET /api/spaces/all` (a bare
//! array; `ids`), `GET /api/spaces/{id}` and the space home
//! `GET /api/{spaceId}`. The cluster has one space, the default one; clients
//! such as Octopus's TypeScript client find its ID by its name here before
//! they touch anything in it.

use hyper::{Method, StatusCode};
use serde_json::Value;

use super::reply::{
    Reply, bad_request, count_param, json, method_not_allowed, not_found, unknown_space,
};
use super::state::MAX_TAKE;
use crate::api;

/// `/api/spaces` and below.
pub(super) fn route(rest: &[&str], method: &Method, query: &str) -> Reply {
    if method != Method::GET {
        return match rest {
            [] | [_] => json(
                StatusCode::METHOD_NOT_ALLOWED,
                &api::error(&format!(
                    "The reference cluster has one space, {}, and its spaces cannot be created, changed or deleted.",
                    api::SPACE_ID
                )),
            ),
            _ => not_found(),
        };
    }
    match rest {
        [] => list(query),
        ["all"] => match Selection::parse(query) {
            Ok(s) => json(StatusCode::OK, &Value::Array(s.matching())),
            Err(e) => bad_request(&e),
        },
        [id] if *id == api::SPACE_ID => json(StatusCode::OK, &api::space_resource()),
        [id] => unknown_space(Some(id)).unwrap_or_else(not_found),
        _ => not_found(),
    }
}

/// `GET /api/{spaceId}`: the links into the space.
pub(super) fn home(method: &Method) -> Reply {
    if method != Method::GET {
        return method_not_allowed();
    }
    json(StatusCode::OK, &api::space_home())
}

/// What a list of spaces asks for.
struct Selection {
    /// Exact name, in any case.
    name: Option<String>,
    /// Part of the name, in any case.
    partial_name: Option<String>,
    /// These IDs only, when any are given.
    ids: Vec<String>,
    skip: usize,
    take: usize,
}

impl Selection {
    fn parse(query: &str) -> Result<Self, String> {
        let mut s = Selection {
            name: None,
            partial_name: None,
            ids: Vec::new(),
            skip: 0,
            take: api::DEFAULT_TAKE,
        };
        for (k, v) in api::query_pairs(query) {
            match k.as_str() {
                "skip" => s.skip = count_param(&k, &v)?,
                "take" => s.take = count_param(&k, &v)?.clamp(1, MAX_TAKE),
                "name" if !v.is_empty() => s.name = Some(v.to_lowercase()),
                "partialName" if !v.is_empty() => s.partial_name = Some(v.to_lowercase()),
                // Comma-separated (a URI template's list), repeated, or both.
                "ids" => s.ids.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|i| !i.is_empty())
                        .map(String::from),
                ),
                _ => {}
            }
        }
        Ok(s)
    }

    /// Every space that matches, before paging.
    fn matching(&self) -> Vec<Value> {
        let name = api::SPACE_NAME.to_lowercase();
        let selected = self.name.as_ref().is_none_or(|n| *n == name)
            && self
                .partial_name
                .as_ref()
                .is_none_or(|p| name.contains(p.as_str()))
            && (self.ids.is_empty() || self.ids.iter().any(|i| i == api::SPACE_ID));
        if selected {
            vec![api::space_resource()]
        } else {
            Vec::new()
        }
    }
}

fn list(query: &str) -> Reply {
    match Selection::parse(query) {
        Ok(s) => json(
            StatusCode::OK,
            &api::collection("Space", "/api/spaces", s.matching(), s.skip, s.take),
        ),
        Err(e) => bad_request(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::Selection;

    fn count(query: &str) -> usize {
        Selection::parse(query).unwrap().matching().len()
    }

    #[test]
    fn the_default_space_is_selected_by_name_part_and_id() {
        assert_eq!(count(""), 1);
        assert_eq!(count("partialName=Default&skip=0&take=2147483647"), 1);
        assert_eq!(count("partialName=FAU"), 1);
        assert_eq!(count("partialName=No%20Such%20Space"), 0);
        assert_eq!(count("name=default"), 1);
        assert_eq!(count("name=Def"), 0);
        assert_eq!(count("ids=Spaces-9,Spaces-1"), 1);
        assert_eq!(count("ids=Spaces-9&ids=Spaces-1"), 1);
        assert_eq!(count("ids=Spaces-2"), 0);
    }

    #[test]
    fn bad_paging_is_refused_not_a_panic() {
        for q in [
            "skip=-1",
            "take=x",
            "skip=99999999999999999999999",
            "take=1e3",
        ] {
            assert!(Selection::parse(q).is_err(), "{q}");
        }
        let huge = Selection::parse("skip=1099511627776&take=1099511627776").unwrap();
        assert_eq!(huge.take, super::MAX_TAKE);
        let page = super::api::collection(
            "Space",
            "/api/spaces",
            huge.matching(),
            huge.skip,
            huge.take,
        );
        assert_eq!(page["Items"].as_array().map(Vec::len), Some(0));
        assert_eq!(page["TotalResults"], 1);
    }
}
