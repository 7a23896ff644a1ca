// TypeScript declarations for miniapp's JavaScript programs: App, Page, wx and
// miniapp, as runtimes/js/src/framework.js provides them (docs/javascript.md).
// Reference it from a program's jsconfig.json or tsconfig.json ("files").

declare namespace MiniApp {
  /** A stable ABI error code (docs/abi.md §8). */
  type ErrorCode =
    | 'invalid_argument' | 'capability_denied' | 'user_cancelled' | 'quota_exceeded' | 'limit_exceeded'
    | 'unavailable' | 'internal' | 'not_found' | 'idempotency_conflict' | 'unsupported';

  type Surface = 'direct' | 'chat' | 'group' | 'moments' | 'channels_ad' | 'mini_program';

  interface LaunchOptions {
    path: string;
    query: Record<string, string>;
    /** The surface the program was opened from (WeChat's scene). */
    scene: Surface;
    surface: Surface;
    referrerInfo: { appId?: string };
  }

  interface Failure { errMsg: string; code?: ErrorCode; result?: PaymentResult }

  /** WeChat's convention: callbacks, or a promise when none is given. */
  interface Callbacks<T> {
    success?(result: T & { errMsg: string }): void;
    fail?(failure: Failure): void;
    complete?(resultOrFailure: (T & { errMsg: string }) | Failure): void;
  }

  interface Dataset { [key: string]: unknown }
  interface TapEvent<D = Dataset> { type: 'tap'; currentTarget: { id: string; dataset: D }; target: { id: string; dataset: D }; detail: any }
  interface InputEvent { type: 'input'; currentTarget: { id: string; dataset: Dataset }; target: { id: string; dataset: Dataset }; detail: { value: string } }

  interface AppOptions {
    onLaunch?(options: LaunchOptions): void;
    onShow?(options: LaunchOptions): void;
    onHide?(): void;
    onPageNotFound?(info: { path: string; query: Record<string, string>; isEntryPage: boolean }): void;
    [key: string]: any;
  }

  interface PageInstance<D> {
    data: D;
    route: string;
    options: Record<string, string>;
    setData(changes: Partial<D> | Record<string, unknown>, callback?: () => void): void;
  }

  interface ShareCard { title?: string; path?: string; url?: string; imageUrl?: string }

  interface PageOptions<D> {
    data?: D;
    onLoad?(query: Record<string, string>): void;
    onShow?(): void;
    onReady?(): void;
    onHide?(): void;
    onUnload?(): void;
    onPullDownRefresh?(): void;
    onShareAppMessage?(from: { from: 'button'; target: { id: string; dataset: Dataset } }): ShareCard;
    /** Instead of a .wxml template: the page's components (docs/abi.md §6.7). */
    render?(): object[];
    [key: string]: any;
  }

  interface PaymentResult {
    status: 'paid' | 'cancelled' | 'failed' | 'pending' | 'closed';
    merchant_id: string;
    out_trade_no: string;
    amount: number;
    currency: string;
    transaction_id?: string;
    method?: string;
    receipt?: string;
    reason?: string;
    attempt: number;
  }

  interface LinkReply { outcome: 'opened' | 'confirmed' | 'declined' | 'denied'; reason?: string; display: string; message: string }

  interface Wx {
    navigateTo(options: { url: string } & Callbacks<{ depth: number; max_depth: number }>): Promise<any> | void;
    redirectTo(options: { url: string } & Callbacks<{ depth: number; max_depth: number }>): Promise<any> | void;
    navigateBack(options?: { delta?: number } & Callbacks<{ depth: number; max_depth: number }>): Promise<any> | void;
    reLaunch(options: { url: string } & Callbacks<{ depth: number; max_depth: number }>): Promise<any> | void;
    setNavigationBarTitle(options: { title: string } & Callbacks<{}>): Promise<any> | void;
    setStorageSync(key: string, data: unknown): void;
    getStorageSync<T = any>(key: string): T | '';
    removeStorageSync(key: string): void;
    clearStorageSync(): void;
    getStorageInfoSync(): { keys: string[]; currentSize: number; limitSize: number };
    setStorage(options: { key: string; data: unknown } & Callbacks<{}>): Promise<any> | void;
    getStorage<T = any>(options: { key: string } & Callbacks<{ data: T }>): Promise<{ data: T }> | void;
    removeStorage(options: { key: string } & Callbacks<{}>): Promise<any> | void;
    clearStorage(options?: Callbacks<{}>): Promise<any> | void;
    getStorageInfo(options?: Callbacks<{ keys: string[]; currentSize: number; limitSize: number }>): Promise<any> | void;
    /** Partial: the order is given directly (no prepay package or signature). */
    requestPayment(options: {
      merchantId: string; outTradeNo: string; amount: number; description: string;
      currency?: string; methods?: string[];
    } & Callbacks<{ result: PaymentResult }>): Promise<{ result: PaymentResult }> | void;
    getUserProfile(options?: { desc?: string } & Callbacks<{ userInfo: { nickName: string; avatarUrl: string } }>): Promise<any> | void;
    getUserInfo(options?: Callbacks<{ userInfo: { nickName: string; avatarUrl: string } }>): Promise<any> | void;
    authorize(options: { scope: 'scope.userInfo' | 'scope.phoneNumber' | 'scope.address' } & Callbacks<{}>): Promise<any> | void;
    chooseAddress(options?: Callbacks<{
      userName: string; telNumber: string; provinceName: string; cityName: string;
      countyName: string; detailInfo: string; postalCode: string;
    }>): Promise<any> | void;
    getPhoneNumber(options?: Callbacks<{ phoneNumber: string }>): Promise<any> | void;
    shareAppMessage(options: ShareCard & { surface?: 'chat' | 'group' | 'moments' } & Callbacks<LinkReply>): Promise<LinkReply & { errMsg: string }> | void;
    navigateToMiniProgram(options: { appId: string; path?: string; extraData?: unknown } & Callbacks<LinkReply>): Promise<any> | void;
    getLaunchOptionsSync(): LaunchOptions;
    getEnterOptionsSync(): LaunchOptions;
    canIUse(name: string): boolean;
  }
}

declare function App(options: MiniApp.AppOptions): void;
declare function getApp<T = MiniApp.AppOptions>(): T;
declare function Page<D extends object>(options: MiniApp.PageOptions<D> & ThisType<MiniApp.PageInstance<D> & MiniApp.PageOptions<D>>): void;
declare function getCurrentPages(): MiniApp.PageInstance<any>[];
declare const wx: MiniApp.Wx;
declare const miniapp: {
  /** Any host function of docs/abi.md §6 with its JSON request; throws MiniappError. */
  call(capability: string, fn: string, request?: unknown): any;
  openLink(options: { url: string } & MiniApp.Callbacks<MiniApp.LinkReply>): Promise<any> | void;
  MiniappError: {
    new (code: MiniApp.ErrorCode, message: string, call?: string): Error & {
      /** The ABI's stable error code. */
      code: MiniApp.ErrorCode;
      /** The host function that answered (`payment.refund`); `message` is then the host's own. */
      call?: string;
    };
  };
};
declare function require(path: string): any;
declare const module: { exports: any };
declare const exports: any;
