using CareHub.Server.Cli;

return await CommandLine.RunAsync(args);
