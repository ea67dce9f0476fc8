public enum Medr1Version { public static let version = "0.1.0" }
