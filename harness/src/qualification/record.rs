//! Insured records (what a scenario declares the service holds) and the qualification result
//! (what the service answers), with the field names of the real system's result.
//!
//! The real オンライン資格確認 answers in XML. This simulator speaks JSON instead, with the same
//! PascalCase field names (`ReferenceClassification`, `SegmentOfResult`, ...) and the same
//! code values as strings (`"1"`, `"010"`, `"A01"`), so a reader that maps the real XML onto
//! these names maps this JSON too. Dates are `YYYYMMDD` strings, as in the real result.

use super::identity::CertificateKey;
use super::schema::{boolean, described, object, one_of, pattern, string};
use crate::rules::LimitCategory;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use time::Date;

/// 照会区分: how the qualification was looked up. Only the card is modelled.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReferenceClassification {
    /// "1": by the My Number Card (its user-authentication certificate).
    #[default]
    #[serde(rename = "1")]
    Card,
}

impl ReferenceClassification {
    /// Every value, for the JSON Schema.
    pub const ALL: [ReferenceClassification; 1] = [ReferenceClassification::Card];
}

/// 処理結果区分: did the lookup complete.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SegmentOfResult {
    /// "1": processed; `QualificationValidity` says what was found.
    #[default]
    #[serde(rename = "1")]
    Ok,
    /// "2": still being processed (照会中); no qualification data.
    #[serde(rename = "2")]
    InProgress,
    /// "9": error; `ErrorCode` says why (a revoked certificate, for example).
    #[serde(rename = "9")]
    Error,
}

impl SegmentOfResult {
    /// Every value, for the JSON Schema.
    pub const ALL: [SegmentOfResult; 3] = [
        SegmentOfResult::Ok,
        SegmentOfResult::InProgress,
        SegmentOfResult::Error,
    ];
}

/// 資格有効性.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QualificationValidity {
    /// "1": valid.
    #[default]
    #[serde(rename = "1")]
    Valid,
    /// "2": invalid (lost).
    #[serde(rename = "2")]
    Invalid,
    /// "3": invalid, and a newer qualification exists.
    #[serde(rename = "3")]
    InvalidNewerExists,
    /// "4": no qualification for this certificate.
    #[serde(rename = "4")]
    None,
    /// "5": several qualifications match; the facility must confirm by other means.
    #[serde(rename = "5")]
    Several,
}

impl QualificationValidity {
    /// Every value, for the JSON Schema.
    pub const ALL: [QualificationValidity; 5] = [
        QualificationValidity::Valid,
        QualificationValidity::Invalid,
        QualificationValidity::InvalidNewerExists,
        QualificationValidity::None,
        QualificationValidity::Several,
    ];

    /// The code of the real system (1-5).
    pub fn code(self) -> u8 {
        match self {
            QualificationValidity::Valid => 1,
            QualificationValidity::Invalid => 2,
            QualificationValidity::InvalidNewerExists => 3,
            QualificationValidity::None => 4,
            QualificationValidity::Several => 5,
        }
    }

    /// Whether an answer with this validity carries the record's qualification data: the
    /// facility needs the data of an invalid qualification too (to see its end date), but
    /// there is nothing to show for "none" and no single record for "several".
    pub fn carries_data(self) -> bool {
        matches!(
            self,
            QualificationValidity::Valid
                | QualificationValidity::Invalid
                | QualificationValidity::InvalidNewerExists
        )
    }
}

/// 本人・家族の別.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PersonalFamilyClassification {
    /// "1": the insured person (本人).
    #[serde(rename = "1")]
    Insured,
    /// "2": a family member (家族).
    #[serde(rename = "2")]
    Family,
}

impl PersonalFamilyClassification {
    /// Every value, for the JSON Schema.
    pub const ALL: [PersonalFamilyClassification; 2] = [
        PersonalFamilyClassification::Insured,
        PersonalFamilyClassification::Family,
    ];
}

/// 一部負担金割合 as the real system codes it: "010" = 10%, "020" = 20%, "030" = 30%.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PartialContributionRatio {
    #[serde(rename = "010")]
    Ten,
    #[serde(rename = "020")]
    Twenty,
    #[serde(rename = "030")]
    Thirty,
}

impl PartialContributionRatio {
    /// Every value, for the JSON Schema.
    pub const ALL: [PartialContributionRatio; 3] = [
        PartialContributionRatio::Ten,
        PartialContributionRatio::Twenty,
        PartialContributionRatio::Thirty,
    ];

    pub fn percent(self) -> u8 {
        match self {
            PartialContributionRatio::Ten => 10,
            PartialContributionRatio::Twenty => 20,
            PartialContributionRatio::Thirty => 30,
        }
    }
}

/// Consent the patient gave at a reader for one facility to see their information. Consent
/// is never shared between facilities (docs/reception-rules.md), which is why records hold it per facility.
///
/// In a request the keys may also be lower case (`checkups`, ...), as a reader writes them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Consent {
    /// 特定健診等情報 (health checkups).
    #[serde(alias = "checkups")]
    pub checkups: bool,
    /// 薬剤情報 (medication).
    #[serde(alias = "medication")]
    pub medication: bool,
    /// 診療情報 (care and medication other than surgery).
    #[serde(alias = "care")]
    pub care: bool,
    /// 手術情報 (past surgery).
    #[serde(alias = "surgery")]
    pub surgery: bool,
}

impl Consent {
    /// "Agree to all" on the reader.
    pub const ALL: Consent = Consent {
        checkups: true,
        medication: true,
        care: true,
        surgery: true,
    };

    /// The items: the name in an answer, the lower-case alias a request may use instead,
    /// and what it lets the facility see.
    const ITEMS: [(&'static str, &'static str, &'static str); 4] = [
        ("Checkups", "checkups", "特定健診等情報 (health checkups)"),
        ("Medication", "medication", "薬剤情報 (medication)"),
        (
            "Care",
            "care",
            "診療情報 (care and medication other than surgery)",
        ),
        ("Surgery", "surgery", "手術情報 (past surgery)"),
    ];

    /// The JSON Schema of consent in an answer: the four items, true = agreed.
    pub fn json_schema() -> Value {
        let properties = Self::ITEMS.map(|(name, _, what)| (name, boolean(what)));
        let names = Self::ITEMS.map(|(name, _, _)| name);
        described(
            object(properties.to_vec(), &names),
            "Consent to show the patient's information to this facility, per item.",
        )
    }

    /// In a request each item may be named either way, but once.
    pub fn request_json_schema() -> Value {
        let mut schema = object(
            Self::ITEMS
                .iter()
                .flat_map(|&(name, alias, what)| [(name, boolean(what)), (alias, boolean(what))])
                .collect(),
            &[],
        );
        let once: Vec<Value> = Self::ITEMS
            .iter()
            .map(|(name, alias, _)| json!({"oneOf": [{"required": [name]}, {"required": [alias]}]}))
            .collect();
        schema["allOf"] = once.into();
        schema["description"] = "The consent the patient chose at the reader, per item \
            (PascalCase or lower-case names); null or absent: reuse what the service holds \
            for this facility."
            .into();
        schema
    }
}

/// Consent held for one facility from a visit before the run (a return visit reuses it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FacilityConsent {
    /// The facility's code (医療機関コード, 10 digits on the real system).
    pub facility: String,
    pub consent: Consent,
}

/// The insurance data of one qualification: the part of the result a facility files.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Qualification {
    /// 保険者番号: 8 digits (6 for 国民健康保険).
    pub insurer_number: String,
    /// 被保険者証記号: absent for some insurers (後期高齢者医療).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insured_card_symbol: Option<String>,
    /// 被保険者証番号.
    pub insured_identification_number: String,
    /// 被保険者証枝番: 2 digits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insured_branch_number: Option<String>,
    pub personal_family_classification: PersonalFamilyClassification,
    /// 資格取得年月日.
    #[serde(with = "yyyymmdd")]
    pub qualification_date: Date,
    /// 資格喪失年月日: set when the qualification has ended.
    #[serde(
        default,
        with = "yyyymmdd::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub disqualification_date: Option<Date>,
    pub insured_partial_contribution_ratio: PartialContributionRatio,
    /// 未就学区分: true for a preschool child (20% share).
    #[serde(default)]
    pub preschool_classification: bool,
    /// 限度額適用認定証区分; absent when the patient has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_application_certificate_classification_flag: Option<LimitCategory>,
}

impl Qualification {
    /// The JSON Schema of the qualification data in an answer.
    pub fn json_schema() -> Value {
        let date = |what| pattern("^[0-9]{8}$", what);
        let properties = vec![
            (
                "InsurerNumber",
                pattern(
                    "^[0-9]{6}([0-9]{2})?$",
                    "保険者番号: 8 digits (6 for 国民健康保険)",
                ),
            ),
            (
                "InsuredCardSymbol",
                string("被保険者証記号; absent for some insurers"),
            ),
            (
                "InsuredIdentificationNumber",
                json!({"type": "string", "minLength": 1, "maxLength": 20,
                       "description": "被保険者証番号"}),
            ),
            (
                "InsuredBranchNumber",
                pattern("^[0-9]{2}$", "被保険者証枝番"),
            ),
            (
                "PersonalFamilyClassification",
                one_of(
                    &PersonalFamilyClassification::ALL,
                    "本人・家族の別: 1 insured person, 2 family member",
                ),
            ),
            ("QualificationDate", date("資格取得年月日, YYYYMMDD")),
            (
                "DisqualificationDate",
                date("資格喪失年月日, YYYYMMDD; set when the qualification has ended"),
            ),
            (
                "InsuredPartialContributionRatio",
                one_of(
                    &PartialContributionRatio::ALL,
                    "一部負担金割合: 010 = 10%, 020 = 20%, 030 = 30%",
                ),
            ),
            (
                "PreschoolClassification",
                boolean("未就学区分: true for a preschool child"),
            ),
            (
                "LimitApplicationCertificateClassificationFlag",
                one_of(
                    &LimitCategory::ALL,
                    "限度額適用認定証区分; absent when the patient has none",
                ),
            ),
        ];
        described(
            object(
                properties,
                &[
                    "InsurerNumber",
                    "InsuredIdentificationNumber",
                    "PersonalFamilyClassification",
                    "QualificationDate",
                    "InsuredPartialContributionRatio",
                    "PreschoolClassification",
                ],
            ),
            "The insurance data of one qualification.",
        )
    }
}

/// One insured record a scenario declares: the identity key (the holder's
/// user-authentication certificate, never the 個人番号) and the answer the service gives.
///
/// Serialised with PascalCase names as a JSON stand-in for the real system's XML.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct InsuredRecord {
    /// Whose record this is: issuer and serial of the user-authentication certificate.
    pub certificate: CertificateKey,
    #[serde(default)]
    pub reference_classification: ReferenceClassification,
    /// Normally "1"; a scenario may declare "2" (in progress) to test a reader's patience.
    #[serde(default)]
    pub segment_of_result: SegmentOfResult,
    /// What the service says of this qualification: normally 1-3. The service itself answers
    /// 4 when no record matches and 5 when several do; a record may still declare 4 or 5
    /// (say, a card registered for insurance whose insurer data is not linked yet), and is
    /// then answered with that validity and no data.
    #[serde(default)]
    pub qualification_validity: QualificationValidity,
    pub qualification: Qualification,
    /// Consent held from visits before the run, per facility.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent: Vec<FacilityConsent>,
    /// Whether the card is registered for insurance use (利用登録). Registration belongs to
    /// the card, so records sharing a certificate share it: any of them saying yes is yes.
    /// An unregistered card is answered SegmentOfResult 9 / `NotRegistered` until the reader
    /// registers it (`POST /registration`).
    #[serde(default = "registered_by_default")]
    pub registered_for_insurance: bool,
}

fn registered_by_default() -> bool {
    true
}

/// Why a record cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("InsurerNumber {0:?} must be 6 or 8 digits")]
    InsurerNumber(String),
    #[error("InsuredIdentificationNumber must be 1 to 20 characters")]
    IdentificationNumber,
    #[error("InsuredBranchNumber {0:?} must be 2 digits")]
    BranchNumber(String),
    #[error("DisqualificationDate {disqualified} is before QualificationDate {qualified}")]
    DatesOutOfOrder { qualified: Date, disqualified: Date },
    #[error("consent for facility {0:?} is declared twice")]
    DuplicateConsent(String),
}

impl InsuredRecord {
    /// A valid record of an insured person (本人, 30%) for `certificate`; tests and examples
    /// adjust the fields they care about.
    pub fn example(certificate: CertificateKey) -> Self {
        InsuredRecord {
            certificate,
            reference_classification: ReferenceClassification::Card,
            segment_of_result: SegmentOfResult::Ok,
            qualification_validity: QualificationValidity::Valid,
            qualification: Qualification {
                insurer_number: "06139999".into(),
                insured_card_symbol: Some("試験".into()),
                insured_identification_number: "1234".into(),
                insured_branch_number: Some("00".into()),
                personal_family_classification: PersonalFamilyClassification::Insured,
                qualification_date: time::macros::date!(2020 - 04 - 01),
                disqualification_date: None,
                insured_partial_contribution_ratio: PartialContributionRatio::Thirty,
                preschool_classification: false,
                limit_application_certificate_classification_flag: None,
            },
            consent: Vec::new(),
            registered_for_insurance: true,
        }
    }

    /// Checks what the type cannot: digit counts, date order, one consent per facility.
    pub fn validate(&self) -> Result<(), RecordError> {
        let q = &self.qualification;
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if !(q.insurer_number.len() == 6 || q.insurer_number.len() == 8)
            || !digits(&q.insurer_number)
        {
            return Err(RecordError::InsurerNumber(q.insurer_number.clone()));
        }
        let id_len = q.insured_identification_number.chars().count();
        if id_len == 0 || id_len > 20 {
            return Err(RecordError::IdentificationNumber);
        }
        if let Some(branch) = &q.insured_branch_number {
            if branch.len() != 2 || !digits(branch) {
                return Err(RecordError::BranchNumber(branch.clone()));
            }
        }
        if let Some(disqualified) = q.disqualification_date {
            if disqualified < q.qualification_date {
                return Err(RecordError::DatesOutOfOrder {
                    qualified: q.qualification_date,
                    disqualified,
                });
            }
        }
        for (i, held) in self.consent.iter().enumerate() {
            if self.consent[..i]
                .iter()
                .any(|c| c.facility == held.facility)
            {
                return Err(RecordError::DuplicateConsent(held.facility.clone()));
            }
        }
        Ok(())
    }

    /// The consent held for `facility` before the run, if any.
    pub fn consent_at(&self, facility: &str) -> Option<Consent> {
        self.consent
            .iter()
            .find(|c| c.facility == facility)
            .map(|c| c.consent)
    }
}

/// The state of the certificate the query came with, as the service judged it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertificateStatus {
    /// Within its validity period and not revoked.
    Valid,
    /// Past its notAfter but within the grace period (to the end of the 3rd month after the
    /// month of expiry): qualification data only, no care or medication data (docs/reception-rules.md).
    ExpiredInGracePeriod,
}

impl CertificateStatus {
    /// Every value, for the JSON Schema.
    pub const ALL: [CertificateStatus; 2] = [
        CertificateStatus::Valid,
        CertificateStatus::ExpiredInGracePeriod,
    ];
}

/// Why the service answered SegmentOfResult 9.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResultErrorCode {
    /// Listed in the CA's revocation list.
    CertificateRevoked,
    /// Past notAfter and past the grace period.
    CertificateExpired,
    /// Before notBefore.
    CertificateNotYetValid,
    /// Not issued (or not signed) by the trusted CA.
    CertificateNotTrusted,
    /// The card is not registered for insurance use; the reader offers registration.
    NotRegistered,
}

impl ResultErrorCode {
    /// Every value, for the JSON Schema.
    pub const ALL: [ResultErrorCode; 5] = [
        ResultErrorCode::CertificateRevoked,
        ResultErrorCode::CertificateExpired,
        ResultErrorCode::CertificateNotYetValid,
        ResultErrorCode::CertificateNotTrusted,
        ResultErrorCode::NotRegistered,
    ];
}

/// The service's answer to one query.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct QualificationResult {
    pub reference_classification: ReferenceClassification,
    pub segment_of_result: SegmentOfResult,
    /// Absent when SegmentOfResult is 2 or 9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification_validity: Option<QualificationValidity>,
    /// Set with SegmentOfResult 9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<ResultErrorCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// How the service judged the certificate; absent when it was refused (see ErrorCode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_status: Option<CertificateStatus>,
    /// The qualification data, when validity is 1-3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qualification: Option<Qualification>,
    /// The consent in force at the querying facility: the one sent with the query, else the
    /// one held from an earlier visit there. Absent when none is held, and in the grace period
    /// of an expired certificate (no care or medication data may be passed then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<Consent>,
}

impl QualificationResult {
    /// The JSON Schema of the answer to a query.
    pub fn json_schema() -> Value {
        let properties = vec![
            (
                "ReferenceClassification",
                one_of(
                    &ReferenceClassification::ALL,
                    "照会区分: 1 = by the My Number Card",
                ),
            ),
            (
                "SegmentOfResult",
                one_of(
                    &SegmentOfResult::ALL,
                    "処理結果区分: 1 processed, 2 still in progress (照会中), 9 error (see ErrorCode)",
                ),
            ),
            (
                "QualificationValidity",
                one_of(
                    &QualificationValidity::ALL,
                    "資格有効性: 1 valid, 2 invalid, 3 invalid and a newer one exists, 4 none \
                     found, 5 several match; absent with SegmentOfResult 2 or 9",
                ),
            ),
            (
                "ErrorCode",
                one_of(
                    &ResultErrorCode::ALL,
                    "Why SegmentOfResult is 9",
                ),
            ),
            ("ErrorMessage", string("What went wrong, for people")),
            (
                "CertificateStatus",
                one_of(
                    &CertificateStatus::ALL,
                    "How the service judged the certificate; absent when it refused it",
                ),
            ),
            ("Qualification", Qualification::json_schema()),
            ("Consent", Consent::json_schema()),
        ];
        described(
            object(properties, &["ReferenceClassification", "SegmentOfResult"]),
            "The answer to a query, with the field names and codes of the real result \
             (JSON instead of XML).",
        )
    }

    /// SegmentOfResult 1 with the given validity and no data.
    pub fn processed(validity: QualificationValidity) -> Self {
        QualificationResult {
            reference_classification: ReferenceClassification::Card,
            segment_of_result: SegmentOfResult::Ok,
            qualification_validity: Some(validity),
            error_code: None,
            error_message: None,
            certificate_status: None,
            qualification: None,
            consent: None,
        }
    }

    /// SegmentOfResult 9.
    pub fn error(code: ResultErrorCode, message: impl Into<String>) -> Self {
        QualificationResult {
            segment_of_result: SegmentOfResult::Error,
            qualification_validity: None,
            error_code: Some(code),
            error_message: Some(message.into()),
            ..QualificationResult::processed(QualificationValidity::None)
        }
    }

    /// The answer for exactly one matching record (before consent is settled).
    pub fn from_record(record: &InsuredRecord) -> Self {
        let mut result = QualificationResult::processed(record.qualification_validity);
        result.reference_classification = record.reference_classification;
        result.segment_of_result = record.segment_of_result;
        if record.segment_of_result == SegmentOfResult::Ok {
            if record.qualification_validity.carries_data() {
                result.qualification = Some(record.qualification.clone());
            }
        } else {
            result.qualification_validity = None;
        }
        result
    }
}

/// Dates as `YYYYMMDD`, the real system's format (the `time` crate's serde feature is not
/// enabled in this workspace, and its default format is not this one anyway).
pub mod yyyymmdd {
    use serde::{de::Error, Deserialize, Deserializer, Serializer};
    use time::{Date, Month};

    pub fn format(date: Date) -> String {
        format!(
            "{:04}{:02}{:02}",
            date.year(),
            u8::from(date.month()),
            date.day()
        )
    }

    pub fn parse(text: &str) -> Result<Date, String> {
        let bad = || format!("{text:?} is not a date in YYYYMMDD form");
        if text.len() != 8 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = text[0..4].parse().map_err(|_| bad())?;
        let month: u8 = text[4..6].parse().map_err(|_| bad())?;
        let day: u8 = text[6..8].parse().map_err(|_| bad())?;
        let month = Month::try_from(month).map_err(|_| bad())?;
        Date::from_calendar_date(year, month, day).map_err(|_| bad())
    }

    pub fn serialize<S: Serializer>(date: &Date, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(*date))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let text = String::deserialize(d)?;
        parse(&text).map_err(D::Error::custom)
    }

    /// The same for an optional date.
    pub mod option {
        use serde::{de::Error, Deserialize, Deserializer, Serializer};
        use time::Date;

        pub fn serialize<S: Serializer>(date: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
            match date {
                Some(date) => s.serialize_str(&super::format(*date)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
            match Option::<String>::deserialize(d)? {
                Some(text) => super::parse(&text).map(Some).map_err(D::Error::custom),
                None => Ok(None),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn key() -> CertificateKey {
        CertificateKey::test_card(0x1001)
    }

    #[test]
    fn a_record_serialises_with_the_real_field_names_and_codes() {
        let mut record = InsuredRecord::example(key());
        record
            .qualification
            .limit_application_certificate_classification_flag = Some(LimitCategory::General);
        record.qualification.disqualification_date = Some(date!(2026 - 03 - 31));
        record.consent.push(FacilityConsent {
            facility: "1312345678".into(),
            consent: Consent::ALL,
        });
        let json = serde_json::to_value(&record).expect("serialises");
        let q = &json["Qualification"];
        assert_eq!(json["ReferenceClassification"], "1");
        assert_eq!(json["SegmentOfResult"], "1");
        assert_eq!(json["QualificationValidity"], "1");
        assert_eq!(q["InsurerNumber"], "06139999");
        assert_eq!(q["InsuredCardSymbol"], "試験");
        assert_eq!(q["InsuredIdentificationNumber"], "1234");
        assert_eq!(q["InsuredBranchNumber"], "00");
        assert_eq!(q["PersonalFamilyClassification"], "1");
        assert_eq!(q["QualificationDate"], "20200401");
        assert_eq!(q["DisqualificationDate"], "20260331");
        assert_eq!(q["InsuredPartialContributionRatio"], "030");
        assert_eq!(q["PreschoolClassification"], false);
        assert_eq!(q["LimitApplicationCertificateClassificationFlag"], "B04");
        assert_eq!(json["Consent"][0]["Consent"]["Surgery"], true);
        assert_eq!(json["Certificate"]["SerialNumber"], "1001");
        let back: InsuredRecord = serde_json::from_value(json).expect("round trip");
        assert_eq!(back, record);
    }

    #[test]
    fn records_are_checked_for_what_the_type_cannot_say() {
        assert_eq!(InsuredRecord::example(key()).validate(), Ok(()));
        let mut r = InsuredRecord::example(key());
        r.qualification.insurer_number = "1234567".into();
        assert!(matches!(r.validate(), Err(RecordError::InsurerNumber(_))));
        let mut r = InsuredRecord::example(key());
        r.qualification.disqualification_date = Some(date!(2019 - 01 - 01));
        assert!(matches!(
            r.validate(),
            Err(RecordError::DatesOutOfOrder { .. })
        ));
        let mut r = InsuredRecord::example(key());
        r.qualification_validity = QualificationValidity::None;
        assert_eq!(r.validate(), Ok(()), "declared 4: answered without data");
        assert_eq!(QualificationResult::from_record(&r).qualification, None);
        let mut r = InsuredRecord::example(key());
        let held = FacilityConsent {
            facility: "A".into(),
            consent: Consent::default(),
        };
        r.consent = vec![held.clone(), held];
        assert!(matches!(
            r.validate(),
            Err(RecordError::DuplicateConsent(_))
        ));
    }

    #[test]
    fn unknown_keys_and_bad_codes_are_rejected() {
        let mut json = serde_json::to_value(InsuredRecord::example(key())).expect("serialises");
        json["Qualification"]["InsuredPartialContributionRatio"] = "040".into();
        assert!(serde_json::from_value::<InsuredRecord>(json.clone()).is_err());
        json["Qualification"]["InsuredPartialContributionRatio"] = "010".into();
        json["Surprise"] = 1.into();
        assert!(serde_json::from_value::<InsuredRecord>(json).is_err());
    }

    #[test]
    fn limit_categories_travel_as_their_codes() {
        // The wire carries the rules' own category, by its code (`A01`…`B08`).
        for category in LimitCategory::ALL {
            let json = serde_json::to_value(category).expect("json");
            assert_eq!(json, category.code());
            assert_eq!(
                serde_json::from_value::<LimitCategory>(json).ok(),
                Some(category)
            );
        }
        assert!(serde_json::from_value::<LimitCategory>("A07".into()).is_err());
    }

    #[test]
    fn records_are_registered_unless_they_say_otherwise() {
        let mut json = serde_json::to_value(InsuredRecord::example(key())).expect("json");
        assert_eq!(json["RegisteredForInsurance"], true);
        json.as_object_mut()
            .expect("object")
            .remove("RegisteredForInsurance");
        let record: InsuredRecord = serde_json::from_value(json).expect("parses");
        assert!(record.registered_for_insurance);
    }

    #[test]
    fn dates_parse_only_as_real_calendar_days() {
        assert_eq!(yyyymmdd::parse("20240229"), Ok(date!(2024 - 02 - 29)));
        for bad in [
            "20230229",
            "2024-02-29",
            "2024022",
            "２０２４０２２９",
            "20241301",
        ] {
            assert!(yyyymmdd::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn results_carry_data_only_for_a_processed_found_record() {
        let mut r = InsuredRecord::example(key());
        assert!(QualificationResult::from_record(&r).qualification.is_some());
        r.segment_of_result = SegmentOfResult::InProgress;
        let result = QualificationResult::from_record(&r);
        assert_eq!(result.qualification, None);
        assert_eq!(result.qualification_validity, None);
        let none = QualificationResult::processed(QualificationValidity::None);
        let json = serde_json::to_value(&none).expect("serialises");
        assert_eq!(json["QualificationValidity"], "4");
        assert!(json.get("Qualification").is_none());
    }
}
