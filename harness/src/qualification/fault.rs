//! Faults the service can be told to show, for one insured person or for every query, and
//! changed while it runs (a scenario can flip the service mid-case).

use super::identity::CertificateKey;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One way the service misbehaves.
///
/// Transport faults (`Slow`, `Timeout`, `Http5xx`, `MalformedBody`) change how the answer
/// travels; result faults (`QualificationInvalid`, `SeveralMatches`) change what it says, and
/// only when the certificate passed the check (a revoked card stays revoked).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Wait this long, then answer normally. Capped by `Limits::max_hold`.
    Slow(Duration),
    /// Never answer: hold the request until the client gives up. The connection is dropped
    /// without a response after `Limits::max_hold` (or at shutdown), so held requests never
    /// pile up for ever.
    Timeout,
    /// Answer with this HTTP status. A code outside 500-599 is answered as 500: this fault
    /// is about a broken service, not about inventing protocol.
    Http5xx(u16),
    /// Answer 200 with a body that is not valid JSON.
    MalformedBody,
    /// Answer QualificationValidity 2 (invalid), with the record's data when one matches.
    QualificationInvalid,
    /// Answer QualificationValidity 5 (several qualifications match).
    SeveralMatches,
}

impl Fault {
    /// The status `Http5xx` answers with (always a 5xx).
    pub fn server_error_status(code: u16) -> u16 {
        if (500..=599).contains(&code) {
            code
        } else {
            500
        }
    }
}

/// `slow:250ms`, `slow:2s`, `timeout`, `http:503`, `malformed`, `invalid`, `several`: the
/// form a command line (`myna-hil serve-qualification --fault ...`) or a log uses.
impl FromStr for Fault {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bad = || {
            format!(
                "`{text}` is not a fault: use slow:DURATION (e.g. slow:250ms), timeout, \
                 http:5xx, malformed, invalid or several"
            )
        };
        match text {
            "timeout" => return Ok(Fault::Timeout),
            "malformed" => return Ok(Fault::MalformedBody),
            "invalid" => return Ok(Fault::QualificationInvalid),
            "several" => return Ok(Fault::SeveralMatches),
            _ => {}
        }
        if let Some(duration) = text.strip_prefix("slow:") {
            return crate::units::parse_duration(duration)
                .map(Fault::Slow)
                .ok_or_else(bad);
        }
        if let Some(code) = text.strip_prefix("http:") {
            return match code.parse::<u16>() {
                Ok(code) if (500..=599).contains(&code) => Ok(Fault::Http5xx(code)),
                _ => Err(bad()),
            };
        }
        Err(bad())
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Slow(d) => write!(f, "slow:{}ms", d.as_millis()),
            Fault::Timeout => f.write_str("timeout"),
            Fault::Http5xx(code) => write!(f, "http:{}", Fault::server_error_status(*code)),
            Fault::MalformedBody => f.write_str("malformed"),
            Fault::QualificationInvalid => f.write_str("invalid"),
            Fault::SeveralMatches => f.write_str("several"),
        }
    }
}

/// The faults in force. The whole-server fault wins over a per-record one: a service that
/// is down is down for everybody.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultTable {
    pub server: Option<Fault>,
    pub per_record: HashMap<CertificateKey, Fault>,
}

impl FaultTable {
    /// The fault that applies to a query about `key`.
    pub fn fault_for(&self, key: &CertificateKey) -> Option<&Fault> {
        self.server.as_ref().or_else(|| self.per_record.get(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_fault_wins_over_a_record_fault() {
        let key = CertificateKey::test_card(1);
        let other = CertificateKey::test_card(2);
        let mut table = FaultTable::default();
        assert_eq!(table.fault_for(&key), None);
        table.per_record.insert(key.clone(), Fault::SeveralMatches);
        assert_eq!(table.fault_for(&key), Some(&Fault::SeveralMatches));
        assert_eq!(table.fault_for(&other), None);
        table.server = Some(Fault::Http5xx(503));
        assert_eq!(table.fault_for(&key), Some(&Fault::Http5xx(503)));
        assert_eq!(table.fault_for(&other), Some(&Fault::Http5xx(503)));
    }

    #[test]
    fn faults_parse_from_and_print_to_the_same_text() {
        for text in [
            "slow:250ms",
            "timeout",
            "http:503",
            "malformed",
            "invalid",
            "several",
        ] {
            let fault: Fault = text.parse().expect(text);
            assert_eq!(fault.to_string(), text);
        }
        assert_eq!("slow:2s".parse(), Ok(Fault::Slow(Duration::from_secs(2))));
        for bad in ["slow", "slow:fast", "http:404", "http:x", "explode", ""] {
            assert!(bad.parse::<Fault>().is_err(), "{bad}");
        }
        assert_eq!(Fault::server_error_status(404), 500);
        assert_eq!(Fault::server_error_status(599), 599);
    }
}
