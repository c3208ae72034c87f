//! Local stand-in for API Gateway, Lambda, SQS event sources, EventBridge schedules and Step
//! Functions, driven by the SAM template and backed by moto for DynamoDB, SQS, SES and KMS.

pub mod app;
pub mod auth;
pub mod config;
pub mod escapes;
pub mod event_time;
pub mod functions;
pub mod http_api;
pub mod lambda_pool;
pub mod mailbox;
pub mod moto;
pub mod resolve;
pub mod resources;
pub mod schedules;
pub mod server;
pub mod sqs_source;
pub mod stepfunctions;
pub mod template;
