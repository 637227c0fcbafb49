fn main() {
    let args: Vec<String> = std::env::args().collect();
    let out = std::path::PathBuf::from(args.get(3).cloned().unwrap_or("out".into()));
    let set = lifeboat::media::write_media(&out, &Default::default()).unwrap();
    println!("{set:?}");
}
