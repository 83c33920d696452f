//! JSON encodings MLflow uses that serde does not do by itself.
//!
//! MLflow writes doubles through protobuf's JSON mapping: NaN and the infinities are
//! the strings `"NaN"`, `"Infinity"` and `"-Infinity"`, and clients send them the
//! same way. Integers may arrive as numbers or numeric strings (proto3 int64 mapping,
//! and every value of a GET query string).

use serde::de::{self, Deserializer, Visitor};
use serde::Serializer;
use std::fmt;

/// Serializes a double the way MLflow does (non-finite values as strings).
pub fn serialize_f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if *v == f64::INFINITY {
        s.serialize_str("Infinity")
    } else if *v == f64::NEG_INFINITY {
        s.serialize_str("-Infinity")
    } else {
        s.serialize_f64(*v)
    }
}

/// Parses a double from its protobuf-JSON string form.
pub fn parse_f64(s: &str) -> Option<f64> {
    match s.trim() {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "inf" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

struct F64Visitor;

impl Visitor<'_> for F64Visitor {
    type Value = f64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or one of \"NaN\", \"Infinity\", \"-Infinity\"")
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        parse_f64(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// Wraps a value visitor so that JSON `null` (or a missing field) is `None`.
#[derive(Clone, Copy)]
struct Opt<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for Opt<V> {
    type Value = Option<V::Value>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self.0).map(Some)
    }
}

struct I64Visitor;

impl Visitor<'_> for I64Visitor {
    type Value = i64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        if v.fract() == 0.0 && v.is_finite() && v.abs() < 9.0e18 {
            Ok(v as i64)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
        v.trim()
            .parse()
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }
}

/// Deserializes an optional double from a number or its string form.
pub fn deserialize_opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    d.deserialize_option(Opt(F64Visitor))
}

/// Deserializes an optional int64 from a number or a numeric string.
pub fn deserialize_opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_option(Opt(I64Visitor))
}

/// Deserializes a repeated string field that a GET query may carry as one value.
pub fn deserialize_string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct List;
    impl<'de> Visitor<'de> for List {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_any(self)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(v) = seq.next_element::<serde_json::Value>()? {
                match v {
                    serde_json::Value::String(s) => out.push(s),
                    serde_json::Value::Number(n) => out.push(n.to_string()),
                    other => {
                        return Err(de::Error::invalid_type(
                            de::Unexpected::Other(&other.to_string()),
                            &self,
                        ))
                    }
                }
            }
            Ok(out)
        }
    }
    d.deserialize_any(List)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    struct M {
        #[serde(
            serialize_with = "serialize_f64",
            deserialize_with = "deserialize_opt_f64_req"
        )]
        v: f64,
        #[serde(default, deserialize_with = "deserialize_opt_i64")]
        n: Option<i64>,
    }

    fn deserialize_opt_f64_req<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        deserialize_opt_f64(d)?.ok_or_else(|| de::Error::custom("missing"))
    }

    #[test]
    fn non_finite_doubles_travel_as_strings() {
        let s = serde_json::to_string(&M {
            v: f64::NAN,
            n: None,
        })
        .unwrap();
        assert_eq!(s, r#"{"v":"NaN","n":null}"#);
        let m: M = serde_json::from_str(r#"{"v":"-Infinity","n":"1000"}"#).unwrap();
        assert_eq!(m.v, f64::NEG_INFINITY);
        assert_eq!(m.n, Some(1000));
        assert!(serde_json::from_str::<M>(r#"{"v":"abc"}"#).is_err());
        assert!(serde_json::from_str::<M>(r#"{"v":1,"n":"x1"}"#).is_err());
    }
}
