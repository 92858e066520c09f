//! Query strings with repeated keys (`filter=a&filter=b`, `rule_name[]=x`), which the
//! Alertmanager and Prometheus APIs both use.

/// The decoded `key=value` pairs of a raw query string, in order.
pub(crate) struct QueryPairs(Vec<(String, String)>);

impl QueryPairs {
    pub(crate) fn parse(raw: Option<&str>) -> Self {
        Self(
            form_urlencoded::parse(raw.unwrap_or("").as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// Every value of `key`.
    pub(crate) fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// The last value of `key`.
    pub(crate) fn last(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// A boolean parameter (`true`/`false`, as Go's `strconv.ParseBool` also accepts
    /// `1`, `0`, `t`, `f`), `default` when absent.
    pub(crate) fn flag(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.last(key) {
            None => Ok(default),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(format!("{key}: expected true or false, got {other:?}")),
        }
    }
}
