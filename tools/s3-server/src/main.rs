//! An S3-compatible server storing objects as files under a directory (each
//! bucket a directory of it), for tests and benchmarks: `s3s-fs`'s file system
//! backend, served over HTTP on loopback. Binds `--listen` (port 0: any free
//! port) and prints `listening on ADDR` once it accepts connections.

use std::path::PathBuf;

use clap::Parser;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;

#[derive(Parser)]
#[command(about = "An S3-compatible server over a directory (s3s-fs), for tests")]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Access key id clients sign with.
    #[arg(long)]
    access_key: String,
    /// Secret access key clients sign with.
    #[arg(long)]
    secret_key: String,
    /// The directory holding the buckets (one directory each).
    root: PathBuf,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let fs = s3s_fs::FileSystem::new(&args.root).map_err(|e| format!("{}: {e:?}", args.root.display()))?;
    let mut builder = S3ServiceBuilder::new(fs);
    builder.set_auth(SimpleAuth::from_single(args.access_key, args.secret_key));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        let (socket, _) = listener.accept().await?;
        let service = service.clone();
        tokio::spawn(async move {
            let builder = Builder::new(TokioExecutor::new());
            if let Err(e) = builder.serve_connection(TokioIo::new(socket), service).await {
                eprintln!("connection: {e}");
            }
        });
    }
}
