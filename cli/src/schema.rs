//! Renders a pool's stored schema (the JSON of `docs/format.md`, "Schema") as Rust-like text:
//! the root's fields with their offsets and types, nested structs indented.

use serde_json::Value;

/// The schema as an indented tree, one field per line.
pub fn tree(schema: &Value) -> String {
    let mut out = String::new();
    let name = str_of(schema, "type").unwrap_or("?");
    out.push_str(&format!(
        "{name}  ({} bytes, align {})\n",
        num(schema, "size"),
        num(schema, "align")
    ));
    fields(schema, 1, &mut out);
    out
}

fn fields(node: &Value, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth);
    for it in items(node) {
        if let Some(name) = str_of(it, "field") {
            let ty = &it["node"];
            out.push_str(&format!(
                "{pad}@{:<5} {name}: {}\n",
                num(it, "offset"),
                type_name(ty)
            ));
            if is_user_struct(ty) && depth < 8 {
                fields(ty, depth + 1, out);
            }
        }
    }
    let variants: Vec<String> = variants(node);
    if !variants.is_empty() {
        out.push_str(&format!("{pad}enum {{ {} }}\n", variants.join(", ")));
    }
}

/// `Variant = discriminant` pairs of a derived enum (its items alternate string, number).
fn variants(node: &Value) -> Vec<String> {
    let its = items(node);
    its.chunks(2)
        .filter_map(|p| match p {
            [a, b] => Some(format!("{} = {}", str_of(a, "str")?, b.get("int")?)),
            _ => None,
        })
        .collect()
}

const CONTAINERS: &[&str] = &[
    "PVec",
    "PString",
    "PBox",
    "PHashMap",
    "PHashSet",
    "PBTreeMap",
    "PBTreeSet",
    "PVecDeque",
    "PRandomState",
    "Option",
    "array",
    "tuple",
];

fn is_user_struct(node: &Value) -> bool {
    str_of(node, "type").is_some_and(|t| !CONTAINERS.contains(&t))
        && items(node).iter().any(|i| i.get("field").is_some())
}

/// A type as Rust would write it (`PHashMap<PString, u64>`); container internals hidden.
pub fn type_name(node: &Value) -> String {
    if let Some(p) = str_of(node, "prim") {
        return p.to_owned();
    }
    let name = str_of(node, "type").unwrap_or("?");
    if node.get("cut").is_some() {
        return format!("{name}<…>");
    }
    let args: Vec<&Value> = items(node).iter().filter(|i| is_node(i)).collect();
    let arg = |i: usize| args.get(i).map_or("?".to_owned(), |a| type_name(a));
    match name {
        "PString" => "PString".into(),
        "PVec" | "PBox" | "Option" => format!("{name}<{}>", arg(0)),
        "PHashMap" | "PBTreeMap" => format!("{name}<{}, {}>", arg(0), arg(1)),
        // A set is a map to (): show the map's key.
        "PHashSet" | "PBTreeSet" => {
            let key = args
                .first()
                .and_then(|m| items(m).iter().find(|i| is_node(i)).map(type_name));
            format!("{name}<{}>", key.unwrap_or_else(|| "?".into()))
        }
        "PVecDeque" => {
            let front = items(node).iter().find(|i| i.get("field").is_some());
            let elem =
                front.and_then(|f| items(&f["node"]).iter().find(|i| is_node(i)).map(type_name));
            format!("PVecDeque<{}>", elem.unwrap_or_else(|| "?".into()))
        }
        "array" => {
            let n = items(node).iter().find_map(|i| i.get("int")).cloned();
            format!("[{}; {}]", arg(0), n.unwrap_or(Value::Null))
        }
        "tuple" => {
            let parts: Vec<String> = items(node)
                .iter()
                .filter(|i| i.get("field").is_some())
                .map(|f| type_name(&f["node"]))
                .collect();
            format!("({})", parts.join(", "))
        }
        other => other.to_owned(),
    }
}

fn is_node(v: &Value) -> bool {
    v.get("prim").is_some() || v.get("type").is_some()
}

fn items(node: &Value) -> &[Value] {
    node.get("items")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn str_of<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn num(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}
