//! The customer's own things over the wire: saved addresses, wishlist
//! entries with current prices, notifications, and their bodies.

use crate::api::dto::orders::AddressView;
use crate::api::extract::body::Input;
use crate::domain::FieldErrors;
use crate::domain::Id;
use crate::domain::Product;
use crate::domain::Timestamp;
use crate::domain::address;
use crate::domain::address::AddressDraft;
use crate::domain::address::NewAddress;
use crate::domain::address::SavedAddress;
use crate::domain::cart;
use crate::domain::fields::Presence;
use crate::domain::fields::read_object;
use crate::domain::notification::Notification;
use serde::Deserialize;
use serde::Serialize;
use serde_json::Map;
use serde_json::Value;
use utoipa::ToSchema;

/// A saved address.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SavedAddressView {
    pub(crate) id: String,
    pub(crate) is_default: bool,
    #[serde(flatten)]
    pub(crate) address: AddressView,
    pub(crate) created_at: String,
}

impl From<&SavedAddress> for SavedAddressView {
    fn from(a: &SavedAddress) -> Self {
        SavedAddressView {
            id: a.id.to_string(),
            is_default: a.is_default,
            address: AddressView::from(&a.address),
            created_at: a.created_at.to_string(),
        }
    }
}

/// A wishlist entry: the product as it is now.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WishView {
    pub(crate) product_id: String,
    pub(crate) title: String,
    pub(crate) price: f64,
    /// After the product's own discount.
    pub(crate) unit_price: f64,
    pub(crate) is_available: bool,
    pub(crate) stock: u32,
    pub(crate) added_at: String,
}

impl WishView {
    pub(crate) fn new(p: &Product, at: Timestamp) -> Self {
        WishView {
            product_id: p.id.to_string(),
            title: p.title.clone(),
            price: p.price.as_decimal(),
            unit_price: cart::unit_price_cents(p) as f64 / 100.0,
            is_available: p.is_available,
            stock: p.stock,
            added_at: at.to_string(),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NotificationView {
    pub(crate) id: String,
    #[schema(examples("order_placed", "payment_received", "order_shipped"))]
    pub(crate) kind: String,
    pub(crate) message: String,
    pub(crate) order_id: Option<String>,
    pub(crate) created_at: String,
    pub(crate) read_at: Option<String>,
}

impl From<&Notification> for NotificationView {
    fn from(n: &Notification) -> Self {
        NotificationView {
            id: n.id.to_string(),
            kind: n.kind.clone(),
            message: n.message.clone(),
            order_id: n.order_id.as_ref().map(|o| o.to_string()),
            created_at: n.created_at.to_string(),
            read_at: n.read_at.map(|t| t.to_string()),
        }
    }
}

impl Input for NewAddressBody {
    type Parsed = Result<NewAddress, FieldErrors>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        NewAddress::parse(body)
    }
}

/// `PATCH /me/addresses/{id}`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"isDefault": true})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct AddressPatchBody {
    #[schema(
        required = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) name: String,
    #[schema(
        required = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) line1: String,
    /// `null` removes it.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) line2: Option<String>,
    #[schema(
        required = false,
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) city: String,
    #[schema(
        required = false,
        min_length = 1,
        max_length = 16,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. DE.
    #[schema(
        required = false,
        min_length = 2,
        max_length = 2,
        pattern = "^[A-Za-z]{2}$"
    )]
    pub(crate) country: String,
    #[schema(required = false)]
    pub(crate) is_default: bool,
}

impl Input for AddressPatchBody {
    type Parsed = Result<AddressDraft, FieldErrors>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        address::parse_address_patch(body)
    }
}

/// `POST /me/wishlist`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"productId": "prod-000001"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct WishBody {
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub(crate) product_id: String,
}

impl Input for WishBody {
    type Parsed = Result<Id, FieldErrors>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        read_object(body, |f| {
            f.get("productId", Presence::Required, Id::from_json)
        })
    }
}

// ---- bodies ---------------------------------------------------------------------------------

/// `POST /me/addresses`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"name": "Ada Lovelace", "line1": "12 Example Road", "city": "London",
                         "postalCode": "NW1 6XE", "country": "GB", "isDefault": true})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct NewAddressBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) name: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) line1: String,
    /// `null` or absent: none.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) line2: Option<String>,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) city: String,
    #[schema(
        min_length = 1,
        max_length = 16,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) postal_code: String,
    /// ISO 3166-1 alpha-2, e.g. DE.
    #[schema(min_length = 2, max_length = 2, pattern = "^[A-Za-z]{2}$")]
    pub(crate) country: String,
    /// `false` by default.
    #[schema(required = false)]
    pub(crate) is_default: bool,
}
