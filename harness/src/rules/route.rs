//! The vocabulary of outcomes (docs/reception-rules.md, "Routes"): how the patient's qualification was
//! confirmed at reception, or that it was not.

use super::RuleError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How the qualification was confirmed. The names are the snake_case route names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// The card, with face authentication at the reader.
    CardFace,
    /// The card, with the 4-digit PIN (also the smartphone token).
    CardPin,
    /// The card, with the staff's visual check (目視確認).
    CardVisual,
    /// The Mynaportal qualification screen, shown with the card.
    PortalScreen,
    /// The downloaded PDF of the Mynaportal qualification screen, with the card.
    PortalPdf,
    /// 資格情報のお知らせ (with the card; alone only under an interim rule set).
    QualificationNotice,
    /// 資格確認書, issued by the insurer from 2024-12-02.
    QualificationCertificate,
    /// The old 健康保険証.
    OldInsuranceCard,
    /// Return visit: staff confirm verbally from what the facility already holds.
    VerbalCheck,
    /// First visit: the patient fills in the 被保険者資格申立書.
    StatementForm,
    /// Nothing confirmed the qualification: the patient pays the full cost (10割).
    NotConfirmed,
}

impl Route {
    /// Every route, in the order.
    pub const ALL: [Route; 11] = [
        Route::CardFace,
        Route::CardPin,
        Route::CardVisual,
        Route::PortalScreen,
        Route::PortalPdf,
        Route::QualificationNotice,
        Route::QualificationCertificate,
        Route::OldInsuranceCard,
        Route::VerbalCheck,
        Route::StatementForm,
        Route::NotConfirmed,
    ];

    /// the name of the route (`card_face`, …, `not_confirmed`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Route::CardFace => "card_face",
            Route::CardPin => "card_pin",
            Route::CardVisual => "card_visual",
            Route::PortalScreen => "portal_screen",
            Route::PortalPdf => "portal_pdf",
            Route::QualificationNotice => "qualification_notice",
            Route::QualificationCertificate => "qualification_certificate",
            Route::OldInsuranceCard => "old_insurance_card",
            Route::VerbalCheck => "verbal_check",
            Route::StatementForm => "statement_form",
            Route::NotConfirmed => "not_confirmed",
        }
    }

    /// A route through the card itself (`card_face`, `card_pin`, `card_visual`).
    pub const fn is_card(self) -> bool {
        matches!(self, Route::CardFace | Route::CardPin | Route::CardVisual)
    }

    /// A fallback: neither a card route nor `not_confirmed`. Every fallback ends at the
    /// patient's normal share (docs/reception-rules.md, "Fallback ladder").
    pub const fn is_fallback(self) -> bool {
        !self.is_card() && !matches!(self, Route::NotConfirmed)
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Route {
    type Err = RuleError;

    /// Parses the snake_case name; anything else is [`RuleError::UnknownRoute`].
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Route::ALL
            .into_iter()
            .find(|route| route.as_str() == name)
            .ok_or_else(|| RuleError::UnknownRoute(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for route in Route::ALL {
            assert_eq!(route.as_str().parse::<Route>().ok(), Some(route));
            assert_eq!(route.to_string(), route.as_str());
            let json = serde_json::to_string(&route).expect("serialises");
            assert_eq!(json, format!("\"{}\"", route.as_str()));
        }
    }

    #[test]
    fn unknown_names_are_errors() {
        assert!(matches!(
            Route::from_str("card-face"),
            Err(RuleError::UnknownRoute(name)) if name == "card-face"
        ));
    }

    #[test]
    fn kinds_partition_the_routes() {
        let cards = Route::ALL.iter().filter(|r| r.is_card()).count();
        let fallbacks = Route::ALL.iter().filter(|r| r.is_fallback()).count();
        assert_eq!((cards, fallbacks), (3, 7));
        assert!(!Route::NotConfirmed.is_card() && !Route::NotConfirmed.is_fallback());
    }
}
