//! How reports, the CLI and the live map write numbers, dates, money and rule parameters for
//! people: thousands separators, a true minus sign, day-month-year dates, currency codes and minor units.

use serde_json::Value;

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// `v` with `digits` decimals and thousands separators (`12,345.6`, `−3.0`); "–" when not finite.
pub fn number(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return "–".into();
    }
    let text = format!("{:.digits$}", v.abs());
    let (int, frac) = text.split_once('.').map_or((text.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::with_capacity(int.len() + int.len() / 3 + 2);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    // A value that rounds to zero is written without a sign.
    let negative = v < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0');
    let sign = if negative { "−" } else { "" };
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// An integer count with thousands separators.
pub fn count(n: u64) -> String {
    number(n as f64, 0)
}

/// A file size: `2.3 MB` (decimal units, as file managers show them).
pub fn bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} kB", n as f64 / 1e3),
        _ => format!("{:.1} MB", n as f64 / 1e6),
    }
}

/// A share (0.53) as a percentage ("53.0%").
pub fn percent(share: f64, digits: usize) -> String {
    if share.is_finite() { format!("{}%", number(share * 100.0, digits)) } else { "–".into() }
}

/// Digits after the decimal point of an ISO 4217 currency's minor unit (2 unless listed).
pub fn minor_unit_digits(code: &str) -> usize {
    match code {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        "CLF" | "UYW" => 4,
        _ => 2,
    }
}

/// Money in `currency` ("AUD 1,234.56"), rounded for display to the currency's minor unit
/// (settlement keeps micro-units); without a code, two decimals.
pub fn money(v: f64, currency: Option<&str>) -> String {
    match currency {
        Some(code) => format!("{code} {}", number(v, minor_unit_digits(code))),
        None => number(v, 2),
    }
}

/// A price per kWh with enough digits to tell tariffs apart ("AUD 0.2500/kWh").
pub fn price(v: f64, currency: Option<&str>) -> String {
    let digits = currency.map_or(2, minor_unit_digits) + 2;
    match currency {
        Some(code) => format!("{code} {}/kWh", number(v, digits)),
        None => format!("{}/kWh", number(v, digits)),
    }
}

/// `2024-04-01…` → "1 Apr" (the chart axes' day labels).
pub fn short_date(date: &str) -> String {
    match parse_date(date) {
        Some((_, m, d)) => format!("{d} {}", MONTHS[m - 1]),
        None => date.to_string(),
    }
}

/// `2024-04-01…` → "1 Apr 2024".
pub fn long_date(date: &str) -> String {
    match parse_date(date) {
        Some((y, m, d)) => format!("{d} {} {y}", MONTHS[m - 1]),
        None => date.to_string(),
    }
}

/// `2024-04` → "Apr 2024".
pub fn month(year_month: &str) -> String {
    match parse_date(&format!("{year_month}-01")) {
        Some((y, m, _)) => format!("{} {y}", MONTHS[m - 1]),
        None => year_month.to_string(),
    }
}

/// `2024-04-01T06:30…` → "1 Apr 2024, 06:30".
pub fn date_time(stamp: &str) -> String {
    match (parse_date(stamp), stamp.get(11..16)) {
        (Some(_), Some(hm)) if hm.as_bytes().get(2) == Some(&b':') => format!("{}, {hm}", long_date(stamp)),
        _ => long_date(stamp),
    }
}

fn parse_date(s: &str) -> Option<(i32, usize, u32)> {
    let (y, m, d) = (s.get(0..4)?.parse().ok()?, s.get(5..7)?.parse::<usize>().ok()?, s.get(8..10)?.parse().ok()?);
    (1..=12).contains(&m).then_some((y, m, d))
}

/// A run's length in words: "7 days", "1 year", "36 hours".
pub fn duration(minutes: u64) -> String {
    let days = minutes as f64 / 1440.0;
    if minutes < 2 * 1440 {
        format!("{} hours", number(minutes as f64 / 60.0, if minutes.is_multiple_of(60) { 0 } else { 1 }))
    } else if (days - 365.0).abs() < 0.5 || (days - 366.0).abs() < 0.5 {
        "1 year".into()
    } else {
        format!("{} days", number(days, if minutes.is_multiple_of(1440) { 0 } else { 1 }))
    }
}

/// A rule's parameters as "k = 0.5, levels = 3" (nothing for none).
pub fn params(v: &Value) -> String {
    match v {
        Value::Object(map) if !map.is_empty() => map.iter().map(|(k, v)| format!("{} = {}", k.replace('_', " "), scalar(v))).collect::<Vec<_>>().join(", "),
        Value::Object(_) | Value::Null => String::new(),
        other => scalar(other),
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(scalar).collect::<Vec<_>>().join(", "),
        Value::Object(_) => params(v),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_like_a_report() {
        assert_eq!(number(1234567.891, 2), "1,234,567.89");
        assert_eq!(number(-88036.0, 0), "−88,036");
        assert_eq!(number(999.96, 1), "1,000.0");
        assert_eq!(number(-0.04, 1), "0.0");
        assert_eq!(number(f64::NAN, 1), "–");
        assert_eq!(percent(0.5304, 1), "53.0%");
        assert_eq!(count(100000), "100,000");
    }

    #[test]
    fn money_uses_the_currency_minor_unit() {
        assert_eq!(money(1234.5678, Some("AUD")), "AUD 1,234.57");
        assert_eq!(money(1234.5678, Some("JPY")), "JPY 1,235");
        assert_eq!(money(-1.23456, Some("KWD")), "KWD −1.235");
        assert_eq!(money(2.5, None), "2.50");
        assert_eq!(price(0.25, Some("EUR")), "EUR 0.2500/kWh");
    }

    #[test]
    fn dates_and_parameters_for_people() {
        assert_eq!(short_date("2024-04-01"), "1 Apr");
        assert_eq!(long_date("2024-04-01T00:00:00+11:00"), "1 Apr 2024");
        assert_eq!(date_time("2024-04-01T06:30:00+11:00"), "1 Apr 2024, 06:30");
        assert_eq!(month("2024-04"), "Apr 2024");
        assert_eq!(duration(7 * 1440), "7 days");
        assert_eq!(duration(365 * 1440), "1 year");
        assert_eq!(duration(36 * 60), "36 hours");
        assert_eq!(params(&serde_json::json!({"k": 0.5, "max_levels": 3})), "k = 0.5, max levels = 3");
        assert_eq!(params(&serde_json::json!({})), "");
    }
}
