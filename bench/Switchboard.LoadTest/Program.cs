return await Switchboard.LoadTest.LoadTestApp.RunAsync(args);
