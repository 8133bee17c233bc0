//! Attacks on the host that need more than a guest: floods of submissions and
//! generated components.

use spindle_proto::SubmitRequest;
use spindle_proto::auth::Credentials;
use spindle_proto::driver_client::DriverClient;

/// Sends `copies` submissions of `size` bytes at once as `tenant`/`token`; the
/// status of each.
pub fn flood(url: &str, tenant: &str, token: &str, size: usize, copies: usize) -> anyhow::Result<Vec<tonic::Status>> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..copies {
            let (url, tenant, token) = (url.to_string(), tenant.to_string(), token.to_string());
            calls.spawn(async move {
                let credentials = Credentials::client(None, Some(&tenant), Some(&token))?;
                let channel = tonic::transport::Endpoint::from_shared(url)?.connect().await?;
                let mut client = DriverClient::new(credentials.channel(channel))
                    .max_encoding_message_size(spindle_proto::MAX_MESSAGE_BYTES);
                let request = SubmitRequest { component: vec![0u8; size], name: "flood".into(), ..Default::default() };
                match client.submit(request).await {
                    Ok(_) => anyhow::bail!("a {size}-byte submission as {tenant} was accepted"),
                    Err(status) => Ok(status),
                }
            });
        }
        let mut statuses = Vec::new();
        while let Some(call) = calls.join_next().await {
            statuses.push(call??);
        }
        Ok(statuses)
    })
}

fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn section(id: u8, body: &[u8], out: &mut Vec<u8>) {
    out.push(id);
    leb128(body.len(), out);
    out.extend_from_slice(body);
}

/// A component of about `size` bytes: one core module with one function of
/// `i32.const 0; drop` repeated (costly to compile), and no job world.
pub fn generated_component(size: usize) -> Vec<u8> {
    let mut body = vec![0x00];
    for _ in 0..size / 3 {
        body.extend_from_slice(&[0x41, 0x00, 0x1a]);
    }
    body.push(0x0b);
    let mut code = Vec::new();
    leb128(1, &mut code);
    leb128(body.len(), &mut code);
    code.extend_from_slice(&body);
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    section(1, &[1, 0x60, 0, 0], &mut module);
    section(3, &[1, 0], &mut module);
    section(10, &code, &mut module);
    let mut component = b"\0asm\x0d\0\x01\0".to_vec();
    section(1, &module, &mut component);
    component
}
