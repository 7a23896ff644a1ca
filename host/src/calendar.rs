//! Calendar dates for timestamps the host shows (the audit log, the ledger) or
//! reads (Alipay's `notify_time`): `yyyy-MM-dd HH:mm:ss` at a fixed UTC offset,
//! converted with Howard Hinnant's civil-date algorithms.

/// Milliseconds since the Unix epoch, now (0 if the clock is before 1970).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Seconds since the Unix epoch, now.
pub fn now_seconds() -> i64 {
    now_ms() / 1000
}

/// `unix_seconds` as `yyyy-MM-dd HH:mm:ss` at UTC+`offset_hours`.
pub fn format(unix_seconds: i64, offset_hours: i64) -> String {
    let local = unix_seconds + offset_hours * 3600;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Unix seconds of `yyyy-MM-dd HH:mm:ss` read at UTC+`offset_hours`.
pub fn parse(text: &str, offset_hours: i64) -> Option<i64> {
    let (date, time) = text.split_once(' ')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min, s) = (t.next()??, t.next()??, t.next()??);
    if d.next().is_some()
        || t.next().is_some()
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || h > 23
        || min > 59
        || s > 60
    {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + min * 60 + s - offset_hours * 3600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants_and_round_trips() {
        assert_eq!(format(0, 0), "1970-01-01 00:00:00");
        assert_eq!(format(0, 8), "1970-01-01 08:00:00");
        assert_eq!(format(1_795_264_108, 0), "2026-11-21 12:28:28");
        assert_eq!(format(951_782_400, 0), "2000-02-29 00:00:00");
        for unix in [0, 1_795_264_108, 951_782_400, -86_400] {
            assert_eq!(parse(&format(unix, 8), 8), Some(unix));
        }
        assert_eq!(parse("2026-13-01 00:00:00", 8), None);
        assert_eq!(parse("2026-01-01", 8), None);
    }
}
