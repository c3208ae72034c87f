//! Choice rules: parsing and evaluation.

use serde_json::Value;

use super::error::DefinitionError;
use super::fields::Fields;
use crate::path::{Path, PathEvalError};

type Result<T> = std::result::Result<T, DefinitionError>;

/// A top-level entry of `Choices`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChoiceBranch {
    pub(crate) rule: Rule,
    pub(crate) next: String,
}

/// A boolean expression over the state input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Compare {
        variable: Path,
        operator: Operator,
        operand: Operand,
    },
    TypeTest {
        variable: Path,
        test: TypeTest,
        expected: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    StringEquals,
    NumericEquals,
    NumericLessThan,
    NumericGreaterThan,
    NumericLessThanEquals,
    NumericGreaterThanEquals,
    BooleanEquals,
}

/// The right-hand side of a comparison: a literal, or a path for the `…Path` operators.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Operand {
    Literal(Value),
    Path(Path),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeTest {
    Present,
    Null,
    String,
    Numeric,
    Boolean,
}

const COMPARISONS: [(&str, Operator); 7] = [
    ("StringEquals", Operator::StringEquals),
    ("NumericEquals", Operator::NumericEquals),
    ("NumericLessThan", Operator::NumericLessThan),
    ("NumericGreaterThan", Operator::NumericGreaterThan),
    ("NumericLessThanEquals", Operator::NumericLessThanEquals),
    (
        "NumericGreaterThanEquals",
        Operator::NumericGreaterThanEquals,
    ),
    ("BooleanEquals", Operator::BooleanEquals),
];

const TYPE_TESTS: [(&str, TypeTest); 5] = [
    ("IsPresent", TypeTest::Present),
    ("IsNull", TypeTest::Null),
    ("IsString", TypeTest::String),
    ("IsNumeric", TypeTest::Numeric),
    ("IsBoolean", TypeTest::Boolean),
];

const COMBINATORS: [&str; 3] = ["And", "Or", "Not"];

/// Parses one entry of `Choices` (which needs `Next`).
pub(super) fn parse_branch(fields: &Fields<'_>) -> Result<ChoiceBranch> {
    let next = fields.required_string("Next")?.to_owned();
    let rule = parse_rule(fields, true)?;
    Ok(ChoiceBranch { rule, next })
}

fn parse_rule(fields: &Fields<'_>, top_level: bool) -> Result<Rule> {
    let mut operators = Vec::new();
    for key in fields.keys() {
        match key.as_str() {
            "Variable" | "Comment" => {}
            "Next" if top_level => {}
            "Next" => {
                return Err(
                    fields.invalid("Next", "only a top-level choice rule may name a Next state")
                )
            }
            other if is_operator(other) => operators.push(other),
            other => return Err(fields.unsupported(other)),
        }
    }

    let operator = match operators.as_slice() {
        [operator] => *operator,
        [] => {
            return Err(
                fields.invalid_object("a choice rule needs a comparison operator, And, Or or Not")
            )
        }
        [first, second, ..] => return Err(fields.conflict(first, second)),
    };

    if COMBINATORS.contains(&operator) {
        if fields.contains("Variable") {
            return Err(fields.conflict("Variable", operator));
        }
        return parse_combinator(fields, operator);
    }

    let variable = fields
        .path("Variable")?
        .ok_or_else(|| fields.missing("Variable"))?;
    parse_comparison(fields, operator, variable)
}

fn is_operator(key: &str) -> bool {
    let base = key.strip_suffix("Path").unwrap_or(key);
    COMBINATORS.contains(&key)
        || TYPE_TESTS.iter().any(|(name, _)| *name == key)
        || COMPARISONS.iter().any(|(name, _)| *name == base)
}

fn parse_combinator(fields: &Fields<'_>, operator: &str) -> Result<Rule> {
    let Some(value) = fields.get(operator) else {
        return Err(fields.missing(operator));
    };
    if operator == "Not" {
        let inner = fields.nested(value, operator)?;
        return Ok(Rule::Not(Box::new(parse_rule(&inner, false)?)));
    }

    let items = fields
        .array(operator)?
        .ok_or_else(|| fields.missing(operator))?;
    if items.is_empty() {
        return Err(fields.invalid(operator, "expected at least one choice rule"));
    }
    let mut rules = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let inner = fields.nested(item, &format!("{operator}[{index}]"))?;
        rules.push(parse_rule(&inner, false)?);
    }
    Ok(if operator == "And" {
        Rule::And(rules)
    } else {
        Rule::Or(rules)
    })
}

fn parse_comparison(fields: &Fields<'_>, operator_name: &str, variable: Path) -> Result<Rule> {
    if let Some((_, test)) = TYPE_TESTS.iter().find(|(name, _)| *name == operator_name) {
        let expected = fields
            .bool(operator_name)?
            .ok_or_else(|| fields.missing(operator_name))?;
        return Ok(Rule::TypeTest {
            variable,
            test: *test,
            expected,
        });
    }

    let (base, is_path) = match operator_name.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (operator_name, false),
    };
    let Some((_, operator)) = COMPARISONS.iter().find(|(name, _)| *name == base) else {
        return Err(fields.unsupported(operator_name));
    };

    let operand = if is_path {
        Operand::Path(
            fields
                .path(operator_name)?
                .ok_or_else(|| fields.missing(operator_name))?,
        )
    } else {
        let value = fields
            .get(operator_name)
            .ok_or_else(|| fields.missing(operator_name))?;
        let type_matches = match operator {
            Operator::StringEquals => value.is_string(),
            Operator::BooleanEquals => value.is_boolean(),
            _ => value.is_number(),
        };
        if !type_matches {
            return Err(fields.invalid(
                operator_name,
                format!("expected a {}", operand_type(*operator)),
            ));
        }
        Operand::Literal(value.clone())
    };

    Ok(Rule::Compare {
        variable,
        operator: *operator,
        operand,
    })
}

fn operand_type(operator: Operator) -> &'static str {
    match operator {
        Operator::StringEquals => "string",
        Operator::BooleanEquals => "boolean",
        _ => "number",
    }
}

impl Rule {
    /// Evaluates the rule against the state input.
    ///
    /// A Variable (or operand path) that does not exist is an error, except under IsPresent.
    /// A value of the wrong type makes a comparison false, as in Step Functions.
    pub(crate) fn evaluate(
        &self,
        input: &Value,
        context: &Value,
    ) -> std::result::Result<bool, PathEvalError> {
        match self {
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.evaluate(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.evaluate(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.evaluate(input, context)?),
            Rule::TypeTest {
                variable,
                test,
                expected,
            } => {
                let value = match (variable.get(input, context), test) {
                    (Ok(value), _) => Some(value),
                    (Err(_), TypeTest::Present) => None,
                    (Err(error), _) => return Err(error),
                };
                let actual = match (test, value) {
                    (TypeTest::Present, value) => value.is_some(),
                    (_, None) => false,
                    (TypeTest::Null, Some(value)) => value.is_null(),
                    (TypeTest::String, Some(value)) => value.is_string(),
                    (TypeTest::Numeric, Some(value)) => value.is_number(),
                    (TypeTest::Boolean, Some(value)) => value.is_boolean(),
                };
                Ok(actual == *expected)
            }
            Rule::Compare {
                variable,
                operator,
                operand,
            } => {
                let left = variable.get(input, context)?;
                let right = match operand {
                    Operand::Literal(value) => value,
                    Operand::Path(path) => path.get(input, context)?,
                };
                Ok(compare(*operator, left, right))
            }
        }
    }
}

fn compare(operator: Operator, left: &Value, right: &Value) -> bool {
    match operator {
        Operator::StringEquals => {
            matches!((left, right), (Value::String(a), Value::String(b)) if a == b)
        }
        Operator::BooleanEquals => {
            matches!((left, right), (Value::Bool(a), Value::Bool(b)) if a == b)
        }
        numeric => {
            let (Some(a), Some(b)) = (left.as_f64(), right.as_f64()) else {
                return false;
            };
            match numeric {
                Operator::NumericEquals => a == b,
                Operator::NumericLessThan => a < b,
                Operator::NumericGreaterThan => a > b,
                Operator::NumericLessThanEquals => a <= b,
                Operator::NumericGreaterThanEquals => a >= b,
                Operator::StringEquals | Operator::BooleanEquals => false,
            }
        }
    }
}
