//! Alertmanager's fingerprint of a label set: FNV-1a 64 over the labels sorted by name,
//! each name and value followed by the byte 0xff, written as 16 hex digits.
//!
//! ```
//! use voxscope_alerting::fingerprint;
//! let labels = [("alertname".to_owned(), "Watchdog".to_owned())].into();
//! assert_eq!(fingerprint(&labels).len(), 16);
//! ```

use voxscope_alert::eval::Labels;

const OFFSET: u64 = 14_695_981_039_346_656_037;
const PRIME: u64 = 1_099_511_628_211;
const SEPARATOR: u8 = 0xff;

/// The fingerprint of `labels`, as Alertmanager shows it (`%016x`).
pub fn fingerprint(labels: &Labels) -> String {
    format!("{:016x}", fingerprint_u64(labels))
}

fn fingerprint_u64(labels: &Labels) -> u64 {
    let mut hash = OFFSET;
    let mut add = |bytes: &[u8]| {
        for byte in bytes.iter().chain(std::iter::once(&SEPARATOR)) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    };
    // A BTreeMap iterates sorted by name, as Alertmanager sorts before hashing.
    for (name, value) in labels {
        add(name.as_bytes());
        add(value.as_bytes());
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_prometheus_client_signature_of_a_known_label_set() {
        // prometheus/common's TestMetricToFingerprint vector for labelSetToFingerprint,
        // the function Alertmanager's fingerprint is.
        let labels: Labels = [("name", "garland, briggs"), ("fear", "love is not enough")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        assert_eq!(fingerprint_u64(&labels), 5_799_056_148_416_392_346);
        assert_eq!(fingerprint_u64(&Labels::new()), 14_695_981_039_346_656_037);
        assert_eq!(fingerprint(&labels), format!("{:016x}", 5_799_056_148_416_392_346_u64));
    }
}
