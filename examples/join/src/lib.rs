//! A join of two generated tables: `join CUSTOMERS ORDERS OUTPUT_DIR`.
//!
//! Customer `c` (for `c < CUSTOMERS`) is named `customer-c`. Order `o` belongs
//! to customer `mix(o) % (CUSTOMERS + CUSTOMERS / 4)` (so some orders name no
//! customer) and is worth `mix(3o) % 1000`. Prints how many (order, customer)
//! rows the inner join has and how many orders have no customer (a right outer
//! join); writes `customer<TAB>name<TAB>orders<TAB>total` for every customer
//! (a left outer join: 0 and 0 without orders).

/// SplitMix64's finalizer: a well-mixed hash of `x`.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn run(args: Vec<String>) -> spindle::Result<()> {
    let [customers, orders, output] = args.as_slice() else {
        return Err(spindle::Error::msg("usage: join CUSTOMERS ORDERS OUTPUT_DIR"));
    };
    let (customers, orders): (i64, i64) = (customers.parse()?, orders.parse()?);
    let people = spindle::range(0, customers)?.map(|c: i64| (c as u64, format!("customer-{c}")));
    let span = (customers + customers / 4) as u64;
    let sales = spindle::range(0, orders)?.map_with(&span, |span: &u64, o: i64| {
        let o = o as u64;
        (mix(o) % span, mix(3 * o) % 1000)
    });
    println!("joined rows: {}", sales.join(&people).count()?);
    let orphans =
        people.right_outer_join(&sales).filter(|(_, (name, _)): &(u64, (Option<String>, u64))| name.is_none());
    println!("orders without customer: {}", orphans.count()?);
    let totals = sales
        .map_values(|amount: u64| (1u64, amount))
        .reduce_by_key(|a: (u64, u64), b: (u64, u64)| (a.0 + b.0, a.1 + b.1));
    people
        .left_outer_join(&totals)
        .map(|(c, (name, t)): (u64, (String, Option<(u64, u64)>))| {
            let (n, total) = t.unwrap_or((0, 0));
            (c, name, n, total)
        })
        .save_as_text_file(output)?;
    Ok(())
}

spindle::main!(run);
