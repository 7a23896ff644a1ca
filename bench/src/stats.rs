//! Samples and their summary: median and spread (p10, p90), printed the same way
//! for every figure.

use std::time::Duration;

/// What a figure measures, and so which way is better.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Microseconds per operation: lower is better.
    Micros,
    /// Milliseconds per operation: lower is better.
    Millis,
    /// Operations (or programs) per unit: higher is better.
    Rate,
}

/// A figure's samples, sorted.
#[derive(Clone)]
pub struct Summary {
    sorted: Vec<f64>,
    /// How the values are read.
    pub unit: Unit,
}

impl Summary {
    /// Durations, summarised in `unit` (`Micros` or `Millis`).
    pub fn of_durations(samples: &[Duration], unit: Unit) -> Summary {
        let scale = if unit == Unit::Millis { 1e3 } else { 1e6 };
        Summary::of_values(samples.iter().map(|d| d.as_secs_f64() * scale).collect(), unit)
    }

    /// Plain values (rates, counts).
    pub fn of_values(mut values: Vec<f64>, unit: Unit) -> Summary {
        assert!(!values.is_empty(), "a figure needs at least one sample");
        values.sort_by(f64::total_cmp);
        Summary { sorted: values, unit }
    }

    /// The samples of `parts` together (all in the first part's unit).
    pub fn merge(parts: &[Summary]) -> Summary {
        let values = parts.iter().flat_map(|part| part.sorted.iter().copied()).collect();
        Summary::of_values(values, parts[0].unit)
    }

    /// The value at quantile `q` (0 to 1).
    pub fn quantile(&self, q: f64) -> f64 {
        self.sorted[((self.sorted.len() - 1) as f64 * q).round() as usize]
    }

    /// The median.
    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    /// `median (p10–p90)`, with the unit.
    pub fn describe(&self) -> String {
        let suffix = match self.unit {
            Unit::Micros => " µs",
            Unit::Millis => " ms",
            Unit::Rate => "",
        };
        format!("{}{suffix} ({}–{})", number(self.median()), number(self.quantile(0.1)), number(self.quantile(0.9)))
    }
}

/// A number with as many decimals as its size deserves.
pub fn number(value: f64) -> String {
    if value >= 1000.0 {
        let whole = value.round() as u64;
        let text = whole.to_string();
        let mut out = String::new();
        for (i, digit) in text.chars().enumerate() {
            if i > 0 && (text.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(digit);
        }
        out
    } else if value >= 100.0 {
        format!("{value:.0}")
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

/// Times `op` `samples` times, one duration per call.
pub fn time_each(samples: usize, mut op: impl FnMut()) -> Vec<Duration> {
    (0..samples)
        .map(|_| {
            let started = std::time::Instant::now();
            op();
            started.elapsed()
        })
        .collect()
}
