fn main() -> std::process::ExitCode {
    mlx::main()
}
