public enum LangVersion { public static let version = "0.1.0" }
