import Runtime
print("medr1 \(Medr1Version.version)")
