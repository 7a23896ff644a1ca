App({
  onLaunch(options) {
    console.log('launched from', options.scene);
    this.globalData = { visits: (wx.getStorageSync('visits') || 0) + 1 };
    wx.setStorageSync('visits', this.globalData.visits);
  },
});
