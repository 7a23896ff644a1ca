// __NAME__: the app. WeChat's App(): onLaunch, onShow, onHide, globalData.
App({
  onLaunch(options) {
    console.log(`opened from ${options.scene}`);
  },
});
