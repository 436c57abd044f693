//! JSON properties in the order they were added, as libvirt writes
//! `-device` and `-object` (serde_json's map sorts its keys).

use serde_json::Value;

/// An ordered JSON object.
#[derive(Debug, Clone, Default)]
pub struct Props(Vec<(String, Item)>);

/// A property's value: JSON, or objects keeping their order.
#[derive(Debug, Clone)]
pub enum Item {
    V(Value),
    O(Props),
    A(Vec<Props>),
}

impl Item {
    fn to_json(&self) -> String {
        match self {
            Item::V(v) => v.to_string(),
            Item::O(p) => p.to_json(),
            Item::A(a) => format!(
                "[{}]",
                a.iter().map(Props::to_json).collect::<Vec<_>>().join(",")
            ),
        }
    }
}

impl Props {
    pub fn new() -> Props {
        Props(Vec::new())
    }

    /// Sets `k` (replacing an earlier value in its place).
    pub fn set(&mut self, k: &str, v: impl Into<Value>) -> &mut Props {
        self.item(k, Item::V(v.into()))
    }

    /// A nested object.
    pub fn obj(&mut self, k: &str, v: Props) -> &mut Props {
        self.item(k, Item::O(v))
    }

    /// An array of objects.
    pub fn arr(&mut self, k: &str, v: Vec<Props>) -> &mut Props {
        self.item(k, Item::A(v))
    }

    fn item(&mut self, k: &str, v: Item) -> &mut Props {
        match self.0.iter_mut().find(|(n, _)| n == k) {
            Some(e) => e.1 = v,
            None => self.0.push((k.to_string(), v)),
        }
        self
    }

    pub fn s(&mut self, k: &str, v: &str) -> &mut Props {
        self.set(k, Value::String(v.to_string()))
    }

    /// A string when present.
    pub fn os(&mut self, k: &str, v: Option<&str>) -> &mut Props {
        if let Some(v) = v {
            self.s(k, v);
        }
        self
    }

    pub fn u(&mut self, k: &str, v: u64) -> &mut Props {
        self.set(k, Value::from(v))
    }

    /// A number when not zero (libvirt's "p:").
    pub fn p(&mut self, k: &str, v: u64) -> &mut Props {
        if v != 0 {
            self.u(k, v);
        }
        self
    }

    pub fn b(&mut self, k: &str, v: bool) -> &mut Props {
        self.set(k, Value::Bool(v))
    }

    /// An on/off switch from the XML (libvirt's "T:"): absent → nothing.
    pub fn t(&mut self, k: &str, v: Option<&str>) -> &mut Props {
        match v {
            Some("on" | "yes") => self.b(k, true),
            Some("off" | "no") => self.b(k, false),
            _ => self,
        }
    }

    /// Removes `k`.
    pub fn remove(&mut self, k: &str) {
        self.0.retain(|(n, _)| n != k);
    }

    /// Appends `other`'s properties.
    pub fn extend(&mut self, other: Props) {
        for (k, v) in other.0 {
            self.item(&k, v);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, k: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(n, _)| n == k)
            .and_then(|(_, v)| match v {
                Item::V(v) => Some(v),
                _ => None,
            })
    }

    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (i, (k, v)) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&Value::String(k.clone()).to_string());
            out.push(':');
            out.push_str(&v.to_json());
        }
        out.push('}');
        out
    }
}
