//! Seals secrets and generates tenant data keys with the customer-managed KMS key.

use std::collections::BTreeMap;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use aws_sdk_kms::Client;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::service_error;
use crate::error::ServiceError;
use crate::records::SealedSecret;

#[derive(Clone)]
pub struct Kms {
    client: Client,
    key_id: String,
}

fn malformed(operation: &'static str, reason: String) -> ServiceError {
    ServiceError {
        service: "KMS",
        operation,
        transient: false,
        code: None,
        source: reason.into(),
    }
}

impl Kms {
    pub fn new(config: &aws_config::SdkConfig, key_id: impl Into<String>) -> Self {
        Self {
            client: Client::new(config),
            key_id: key_id.into(),
        }
    }

    /// Encrypts `plaintext` under the encryption context, which must be given again to open it.
    pub async fn seal(
        &self,
        plaintext: &str,
        context: BTreeMap<String, String>,
    ) -> Result<SealedSecret, ServiceError> {
        let output = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext.as_bytes()))
            .set_encryption_context(Some(context.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| service_error("KMS", "Encrypt", e))?;
        let blob = output
            .ciphertext_blob
            .ok_or_else(|| malformed("Encrypt", "no ciphertext in the response".into()))?;
        Ok(SealedSecret {
            ciphertext: STANDARD.encode(blob.as_ref()),
            context,
        })
    }

    pub async fn open(&self, sealed: &SealedSecret) -> Result<String, ServiceError> {
        let ciphertext = STANDARD
            .decode(&sealed.ciphertext)
            .map_err(|error| malformed("Decrypt", format!("ciphertext is not base64: {error}")))?;
        let output = self
            .client
            .decrypt()
            .ciphertext_blob(Blob::new(ciphertext))
            .set_encryption_context(Some(sealed.context.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| service_error("KMS", "Decrypt", e))?;
        let plaintext = output
            .plaintext
            .ok_or_else(|| malformed("Decrypt", "no plaintext in the response".into()))?;
        String::from_utf8(plaintext.into_inner())
            .map_err(|error| malformed("Decrypt", format!("plaintext is not UTF-8: {error}")))
    }

    /// Generates a 256-bit data key bound to the tenant and returns only its encrypted form.
    pub async fn generate_data_key(&self, tenant_id: &str) -> Result<String, ServiceError> {
        let output = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context("tenant_id", tenant_id)
            .send()
            .await
            .map_err(|e| service_error("KMS", "GenerateDataKey", e))?;
        let blob = output
            .ciphertext_blob
            .ok_or_else(|| malformed("GenerateDataKey", "no ciphertext in the response".into()))?;
        Ok(STANDARD.encode(blob.as_ref()))
    }
}
